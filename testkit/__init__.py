"""What the tests and the benchmarks both use: fictitious sample data and photos, and a signed
fixture. Never imported by the suite itself."""
