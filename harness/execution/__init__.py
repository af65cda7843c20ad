"""Running cells: the parent's run loop (`runner`), the process that runs one backend's cells in
isolation (`worker_manager`, parent side; `worker`, child side) and the files they exchange (`protocol`).
"""
