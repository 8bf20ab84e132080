#!/bin/sh
# A nightly backup in shell, reporting to cronwatch with `cronwatch beat`: `ok` with what it
# wrote, or `--fail` with tar's own words, which cronwatch sends you. Crontab line:
#
#   0 3 * * *  cd /srv/app && ./backup.sh >> backup.log 2>&1
#
# It archives DATA_DIR into BACKUP_DIR.
set -u

DATA_DIR=${DATA_DIR:-/srv/app/data}
BACKUP_DIR=${BACKUP_DIR:-/var/backups/app}
archive="$BACKUP_DIR/data-$(date +%Y%m%d-%H%M%S).tar.gz"

if output=$(tar -czf "$archive" -C "$DATA_DIR" . 2>&1); then
  cronwatch beat backup.heartbeat --message "wrote $archive"
else
  rm -f "$archive"
  echo "$output" >&2
  cronwatch beat backup.heartbeat --fail --message "tar failed: $output"
  exit 1
fi
