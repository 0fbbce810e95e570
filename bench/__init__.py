"""Benchmarks: berth against docker, podman and skopeo on the same work, in one run.

Nothing here is a pass/fail test (DESIGN §8): the modules build the benchmark images
(`bench.images`), start and stop the peers (`bench.peers`), and time cold/warm pulls
(`bench.pull`) and CLI start-up (`bench.startup`). `python -m bench` runs them all.
Must not import `berth`: berth is measured only as a subprocess, like its peers.
"""
