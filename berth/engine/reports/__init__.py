"""Docker's JSON documents — inspect, the list endpoints' summaries, disk usage — built in one
place from berth's records, for the CLI (which formats them as the docker CLI does) and the
Engine API (which sends them as they are)."""
