"""Support shared by the test suite and the benchmarks: throwaway servers and processes."""
