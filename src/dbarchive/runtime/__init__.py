"""The process around the core: background threads, the C extensions, CPU priority."""
