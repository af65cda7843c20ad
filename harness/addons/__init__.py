"""Per-cell add-ons: things measured around a timing cell (memory, machine load; a profiler or an energy
meter tomorrow), behind one context-manager interface (`harness.addons.base.CellAddon`), registered by
plugins through the ``bench_register_addons`` hook like backends and suites."""
