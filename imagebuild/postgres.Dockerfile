# The walkthrough's postgres:15 image (imagebuild/walkthrough.py builds it with debootstrap and
# apt-get in a chroot) written as a Dockerfile: the same package from the same suites, the same
# entrypoint file, the same configuration. Its context is this directory (imagebuild/), so the
# COPY takes the very postgres-entrypoint.sh the walkthrough images carry:
#
#   berth build  -f imagebuild/postgres.Dockerfile --build-arg PG_VERSION=15.20-0+deb12u1 \
#       -t postgres:15 imagebuild
#   docker build -f imagebuild/postgres.Dockerfile --build-arg PG_VERSION=15.20-0+deb12u1 \
#       -t postgres:15 imagebuild
#
# PG_VERSION is Debian's version of postgresql-15 (`apt-cache policy postgresql-15` in
# debian:bookworm with bookworm-security enabled); it is pinned, as the official image pins it,
# because an ENV cannot be read back from what a RUN installed.
FROM debian:bookworm

ARG PG_VERSION

ENV LANG=C.UTF-8
ENV PG_MAJOR=15
ENV PATH=$PATH:/usr/lib/postgresql/$PG_MAJOR/bin
ENV PG_VERSION=$PG_VERSION
ENV PGDATA=/var/lib/postgresql/data

# One layer, as the walkthrough's: a postgres user with a fixed uid before the packages pick
# one; the packages but no database cluster (the entrypoint makes one in PGDATA) and no
# service started by a package script; then listen on every address, and the socket and data
# directories in place. Newer point releases are in bookworm-security, kept in the sources.
RUN set -eux; \
    : "${PG_VERSION:?pass --build-arg PG_VERSION=<Debian version of postgresql-$PG_MAJOR>}"; \
    groupadd -r postgres --gid=999; \
    useradd -r -g postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres; \
    mkdir -p /var/lib/postgresql; \
    chown -R postgres:postgres /var/lib/postgresql; \
    echo "deb http://deb.debian.org/debian-security bookworm-security main" \
        > /etc/apt/sources.list.d/debian-security.list; \
    mkdir -p /etc/postgresql-common; \
    echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf; \
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; \
    chmod 755 /usr/sbin/policy-rc.d; \
    apt-get update -qq; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confold "postgresql-$PG_MAJOR=$PG_VERSION"; \
    sample="/usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample"; \
    sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "$sample"; \
    grep -F "listen_addresses = '*'" "$sample"; \
    mkdir -p /var/run/postgresql; \
    chown -R postgres:postgres /var/run/postgresql; \
    chmod 3777 /var/run/postgresql; \
    mkdir -p "$PGDATA"; \
    chown -R postgres:postgres "$PGDATA"; \
    chmod 1777 "$PGDATA"; \
    mkdir /docker-entrypoint-initdb.d; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/sbin/policy-rc.d

COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh

ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
EXPOSE 5432
STOPSIGNAL SIGINT
CMD ["postgres"]
