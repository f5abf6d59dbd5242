#!/usr/bin/env bash
# Move a host's management interface from eth0 onto an active-backup bond of eth0 and eth1.
set -euo pipefail
HOST=$(xe host-list name-label=xcp-ng-01 --minimal)
ETH0=$(xe pif-list host-uuid="$HOST" device=eth0 --minimal)
ETH1=$(xe pif-list host-uuid="$HOST" device=eth1 --minimal)
echo "management before: $(xe pif-list host-uuid="$HOST" management=true params=device --minimal)"
NET=$(xe network-create name-label="Bond 0+1")
BOND=$(xe bond-create network-uuid="$NET" pif-uuids="$ETH0,$ETH1" mode=active-backup)
MASTER=$(xe bond-param-get uuid="$BOND" param-name=master)
xe pif-reconfigure-ip uuid="$MASTER" mode=static IP=10.0.0.21 netmask=255.255.255.0 gateway=10.0.0.1 DNS=10.0.0.1
xe host-management-reconfigure pif-uuid="$MASTER"
echo "management after: $(xe pif-list host-uuid="$HOST" management=true params=device --minimal)"
echo "bond mode: $(xe bond-param-get uuid="$BOND" param-name=mode)"
echo "ip: $(xe pif-param-get uuid="$MASTER" param-name=IP)"
