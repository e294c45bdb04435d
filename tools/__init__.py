"""The project's tools: the patch engine (`tools.patchset`), Lightning's own tests
(`tools.upstream`), mutants, releases, the report and the benchmarks."""
