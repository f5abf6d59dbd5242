#!/usr/bin/env bash
# Solves "Provisioning hosts with PXE" (run on the PXE server node by `xenlab lab test`): the toolkit's generator
# for the dnsmasq configuration, TFTP tree and answer files, then the host's iPXE script rewritten to boot Xen and
# dom0 over TFTP, with the name its answer file gives it. The checks on the host node power it on and wait for it.
set -euo pipefail
mkdir -p ~/pxe/tftp/ipxe
printf 'mac,ip,hostname,role\n52:54:00:12:34:56,10.0.2.15,%s,master\n' "$LAB_HOST_NAME" > ~/hosts.csv
xenlab-tools pxe --inventory ~/hosts.csv --subnet 10.0.2.0/24 --server 10.0.2.2 --gateway 10.0.2.2 \
  --boot ipxe --tftp-root "$HOME/pxe/tftp" --out ~/pxe >&2
dnsmasq --test -C ~/pxe/dnsmasq.conf >&2
xenlab-tools pxe --check ~/pxe/dnsmasq.conf >&2
ln -sf "$XENLAB_XEN_IMAGE/xen" ~/pxe/tftp/xen
ln -sf "$XENLAB_XEN_IMAGE/vmlinuz" ~/pxe/tftp/vmlinuz
ln -sf "$XENLAB_XEN_IMAGE/dom0-rootfs.cpio.gz" ~/pxe/tftp/dom0.cpio.gz
# The generated script of this MAC names the host's answer file; the answer file names the host.
s=~/pxe/tftp/ipxe/52-54-00-12-34-56.ipxe
answers=$(grep -o 'answerfile=[^ ]*' "$s" | sed 's:.*/::')
name=$(sed -n 's:.*<hostname>\(.*\)</hostname>.*:\1:p' ~/pxe/answers/"$answers")
[ -n "$name" ] || { echo "no <hostname> in ~/pxe/answers/$answers" >&2; exit 1; }
cat > "$s" <<IPXE
#!ipxe
kernel /xen dom0_mem=1024M,max:1024M dom0_max_vcpus=1 console=com1 com1=115200,8n1 bootscrub=false noreboot
module /vmlinuz console=hvc0 xenlab.hostname=$name
module /dom0.cpio.gz
boot
IPXE
