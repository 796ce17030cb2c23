"""Speed and memory benchmarks, each against a named peer in the same run (`make bench`)."""
