#!/usr/bin/env bash
# Span data centers: every task from a fresh environment. `xe` reaches dc-east; west() reaches dc-west.
set -euo pipefail
west() { xe -s 127.0.0.1 -p "${XENLAB_XAPI_URL_DC_WEST##*:}" -u root -pw "$XENLAB_XAPI_PASSWORD_DC_WEST" "$@"; }

# 1. Replicate east's pool database onto east-nfs; the runbook.
sr=$(xe sr-list name-label=east-nfs params=uuid --minimal)
xe sr-enable-database-replication uuid=$sr
pbd=$(xe pbd-list sr-uuid=$sr params=uuid --minimal | cut -d, -f1)
cat > ~/dr-runbook.env <<RUNBOOK
EAST_SR=$sr
NFS_SERVER=$(xe pbd-param-get uuid=$pbd param-name=device-config param-key=server)
NFS_PATH=$(xe pbd-param-get uuid=$pbd param-name=device-config param-key=serverpath)
RUNBOOK

# 2. To west, live, one VM at a time.
net=$(west network-list name-label="Pool-wide network associated with eth0" params=uuid --minimal)
wsr=$(west sr-list name-label=west-nfs params=uuid --minimal)
for vm in shop-db shop-web-1 shop-web-2; do
  vif=$(xe vif-list vm-name-label=$vm params=uuid --minimal)
  vdi=$(xe vbd-list vm-name-label=$vm type=Disk params=vdi-uuid --minimal)
  xe vm-migrate vm=$vm live=true remote-master="$XENLAB_XAPI_URL_DC_WEST" remote-username=root \
    remote-password="$XENLAB_XAPI_PASSWORD_DC_WEST" host=west-01 "vif:$vif=$net" "vdi:$vdi=$wsr"
done

# 3. The back office in east, a vApp on the replicated SR.
net=$(xe network-list name-label="Pool-wide network associated with eth0" params=uuid --minimal)
app=$(xe appliance-create name-label=billing name-description="Back office: database first, then the application")
for spec in billing-db:0:10 billing-app:1:0; do
  IFS=: read -r name order delay <<< "$spec"
  vm=$(xe vm-install template="Debian Bookworm 12" new-name-label=$name sr-uuid=$sr)
  xe vm-memory-limits-set uuid=$vm static-min=512MiB dynamic-min=512MiB dynamic-max=512MiB static-max=512MiB
  xe vif-create vm-uuid=$vm network-uuid=$net device=0 >/dev/null
  xe vm-param-set uuid=$vm appliance=$app order=$order start-delay=$delay
done
xe appliance-start uuid=$app

# 4. East goes dark; recover the shop in west from the replicated database.
# xenlab-lab-test: press lose-east
set -euo pipefail
west() { xe -s 127.0.0.1 -p "${XENLAB_XAPI_URL_DC_WEST##*:}" -u root -pw "$XENLAB_XAPI_PASSWORD_DC_WEST" "$@"; }
. ~/dr-runbook.env
west drtask-create type=nfs device-config:server=$NFS_SERVER device-config:serverpath=$NFS_PATH sr-whitelist=$EAST_SR
db=$(west vdi-list sr-uuid=$EAST_SR type=Metadata params=uuid --minimal)
app=$(west appliance-list database:vdi-uuid=$db name-label=billing params=uuid --minimal)
west appliance-recover uuid=$app database:vdi-uuid=$db
west appliance-start uuid=$app
west vm-list appliance=$app params=name-label,uuid,power-state
