"""The schema, as an ordered list of migrations; `PRAGMA user_version` counts those applied.

Tables (v1):
  layers        one row per unpacked layer directory snapshots/<id>, keyed by diff_id: a layer
                is stored once whatever it sits on (its directory holds only its own diff)
  chains        chain_id -> (parent chain_id, diff_id): the stacks images are made of
  images        one row per image config digest, with the platform manifest it came from
  tags          "docker.io/library/postgres:15" -> image id
  repo_digests  "docker.io/library/postgres@sha256:..." -> image id (the digest pulled by)

Tables (v2):
  containers    one row per container: its Docker-shaped Config and HostConfig (JSON, fixed at
                create) apart from its State (JSON, changed by start/stop/exit), as Podman
                keeps config apart from state

Tables (v3):
  volumes       one row per named volume: its driver ("local"), creation time, labels and
                options (JSON); the data lives in volumes/<name>/_data

Tables (v4):
  networks      one row per network: bridge, host and none, then user-defined ones; subnet
                and gateway are chosen once (at create, or the default bridge's first use)
  endpoints     a container's attachment to a network, kept from create to rm; `address` and
                `mac` are set while the container runs (allocated at start, freed at exit)
  ports         published ports while a container runs: the host side chosen at start

Tables (v5):
  active_snapshots  one row per active (writable) or view (read-only) snapshot: the chain it
                stands on, and its upper and work directories relative to the root (a
                container's rootfs is the active snapshot keyed by its id; containers made
                before v5 keep their containers/<id>/diff and work)

Tables (v6):
  build_cache   one row per build step done: its cache key (the parent step's, the
                instruction as run, the build args it used, the content of what it copied),
                the chain its result stands on, and the result (config, the layers and
                history entries made since the stage's FROM) as JSON; `used` orders pruning

Tables (v7):
  networks      + configured: 1 when the user chose the subnet (only then may a container
                ask for its own address, as Docker's --ip)
  endpoints     + requested: the IPv4 address asked for at create (--ip, IPAMConfig)

Tables (v8):
  context_files the build context files' content digests by host path, with the `stat`
                identity (device, inode, size, mtime and ctime in ns) they were read at: a
                rebuild reads a file again only when its identity changed

Tables (v9):
  build_replays a build from a context directory, by what was asked (`slot`): the
                fingerprint of what it read, the image it made and what a rebuild must find
                unchanged to answer with that image without the builder (berth.build.replay)

Never edit a released migration: append a new one.
"""

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE layers (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        diff_id  TEXT NOT NULL UNIQUE,
        size     INTEGER NOT NULL,
        created  TEXT NOT NULL
    );
    CREATE TABLE chains (
        chain_id TEXT PRIMARY KEY,
        parent   TEXT REFERENCES chains(chain_id),
        diff_id  TEXT NOT NULL REFERENCES layers(diff_id)
    );
    CREATE TABLE images (
        id               TEXT PRIMARY KEY,
        manifest_digest  TEXT NOT NULL,
        top_chain        TEXT REFERENCES chains(chain_id),
        size             INTEGER NOT NULL,
        created          TEXT NOT NULL,
        stored           TEXT NOT NULL,
        last_tagged      TEXT
    );
    CREATE TABLE tags (
        name      TEXT PRIMARY KEY,
        image_id  TEXT NOT NULL REFERENCES images(id)
    );
    CREATE INDEX tags_by_image ON tags(image_id);
    CREATE TABLE repo_digests (
        name      TEXT PRIMARY KEY,
        image_id  TEXT NOT NULL REFERENCES images(id)
    );
    CREATE INDEX repo_digests_by_image ON repo_digests(image_id);
    """,
    """
    CREATE TABLE containers (
        id           TEXT PRIMARY KEY,
        name         TEXT NOT NULL UNIQUE,
        image_id     TEXT NOT NULL REFERENCES images(id),
        image_name   TEXT NOT NULL,
        created      TEXT NOT NULL,
        config       TEXT NOT NULL,
        host_config  TEXT NOT NULL,
        state        TEXT NOT NULL
    );
    CREATE INDEX containers_by_image ON containers(image_id);
    """,
    """
    CREATE TABLE volumes (
        name     TEXT PRIMARY KEY,
        driver   TEXT NOT NULL,
        created  TEXT NOT NULL,
        labels   TEXT NOT NULL,
        options  TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE networks (
        id        TEXT PRIMARY KEY,
        name      TEXT NOT NULL UNIQUE,
        driver    TEXT NOT NULL,
        subnet    TEXT UNIQUE,
        gateway   TEXT,
        internal  INTEGER NOT NULL,
        labels    TEXT NOT NULL,
        options   TEXT NOT NULL,
        created   TEXT NOT NULL
    );
    CREATE TABLE endpoints (
        network_id    TEXT NOT NULL REFERENCES networks(id),
        container_id  TEXT NOT NULL,
        aliases       TEXT NOT NULL,
        address       TEXT,
        mac           TEXT,
        interface     TEXT,
        PRIMARY KEY (network_id, container_id)
    );
    CREATE UNIQUE INDEX endpoints_by_address ON endpoints(network_id, address);
    CREATE INDEX endpoints_by_container ON endpoints(container_id);
    CREATE TABLE ports (
        container_id    TEXT NOT NULL,
        protocol        TEXT NOT NULL,
        container_port  INTEGER NOT NULL,
        host_ip         TEXT NOT NULL,
        host_port       INTEGER NOT NULL,
        PRIMARY KEY (protocol, host_ip, host_port)
    );
    CREATE INDEX ports_by_container ON ports(container_id);
    """,
    """
    CREATE TABLE active_snapshots (
        key      TEXT PRIMARY KEY,
        parent   TEXT REFERENCES chains(chain_id),
        kind     TEXT NOT NULL,
        upper    TEXT,
        work     TEXT,
        created  TEXT NOT NULL
    );
    INSERT INTO active_snapshots (key, parent, kind, upper, work, created)
        SELECT c.id, i.top_chain, 'active', 'containers/' || c.id || '/diff',
               'containers/' || c.id || '/work', c.created
        FROM containers c JOIN images i ON i.id = c.image_id;
    """,
    """
    CREATE TABLE build_cache (
        key      TEXT PRIMARY KEY,
        chain    TEXT,
        result   TEXT NOT NULL,
        created  TEXT NOT NULL,
        used     TEXT NOT NULL
    );
    """,
    """
    ALTER TABLE networks ADD COLUMN configured INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE endpoints ADD COLUMN requested TEXT;
    """,
    """
    CREATE TABLE context_files (
        path      TEXT PRIMARY KEY,
        identity  TEXT NOT NULL,
        digest    TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE build_replays (
        slot         TEXT PRIMARY KEY,
        fingerprint  TEXT NOT NULL,
        image_id     TEXT NOT NULL,
        document     TEXT NOT NULL,
        used         TEXT NOT NULL
    );
    """,
)
