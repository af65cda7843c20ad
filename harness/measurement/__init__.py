"""How time and resources are measured and summarised: the timing loop (`timer`), the statistics of its
samples (`statistics`), peak memory (`memory`), the GEMM peak (`gemm_peak`), analytic FLOPs (`flops`)
and scaling fits (`scaling`). Imports no framework.
"""
