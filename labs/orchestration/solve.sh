#!/usr/bin/env bash
# Solves "Orchestration: a web tier with Ansible" from a fresh environment (run by `xenlab lab test`): the inventory
# and the tier's variables, the playbook, its second run (changed=0), then the tier scaled by one variable.
set -euo pipefail
mkdir -p ~/orchestration/group_vars
cd ~/orchestration
printf '[pool]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n' >inventory.ini
cat >group_vars/pool.yml <<EOF
web_prefix: $LAB_TIER
web_count: $LAB_COUNT
web_template: $LAB_GOLDEN
web_memory_mb: $LAB_MEMORY_MB
web_vcpus: $LAB_VCPUS
web_network: $LAB_FRONT
EOF
cat >web.yml <<'EOF'
- name: The web tier
  hosts: pool
  gather_facts: false
  tasks:
    - name: Web VMs from the golden template, powered on
      community.general.xenserver_guest:
        hostname: "{{ lookup('env', 'XENLAB_XAPI_URL') }}"
        username: "{{ lookup('env', 'XENLAB_XAPI_USER') }}"
        password: "{{ lookup('env', 'XENLAB_XAPI_PASSWORD') }}"
        name: "{{ web_prefix }}-{{ web_index }}"
        template: "{{ web_template }}"
        hardware:
          num_cpus: "{{ web_vcpus }}"
          memory_mb: "{{ web_memory_mb }}"
        networks:
          - name: "{{ web_network }}"
        state: poweredon
      loop: "{{ range(1, web_count + 1) | list }}"
      loop_control: { loop_var: web_index }
EOF
ansible-playbook -i inventory.ini web.yml
ansible-playbook -i inventory.ini web.yml | tee second-run.log
sed -i "s/^web_count:.*/web_count: $LAB_SCALED/" group_vars/pool.yml
ansible-playbook -i inventory.ini web.yml
