#!/bin/sh
# Install the comparison tools for bench/run.py (Debian 12: restic 0.14, Borg 1.2.4).
set -eu
if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: run as root (apt-get)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends restic borgbackup time
restic version
borg --version
