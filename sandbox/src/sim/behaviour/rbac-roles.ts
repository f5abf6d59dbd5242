/**
 * The roles each XenAPI message allows, as xapi's RBAC generator reads them from the datamodel (ocaml/idl/
 * ocaml_backend/gen_rbac.ml over the `allowed_roles` of every message). Derived from the datamodel as
 * xapi-project.github.io publishes it (`_data/xenapi.json`, each message's `roles`): every role that allows a message
 * also allows it to the roles above it (datamodel_roles.ml `roles_gte`), so one entry names the lowest role, with
 * `+client-cert` where the internal client-cert role has it too.
 *
 * To keep the table short, a message named `get_*` is `read-only+client-cert` unless listed here; any other message
 * not listed has no permission at all (`_R_LOCAL_ROOT_ONLY`: only a local root session may call it), as do the
 * `local-root-only` entries. Regenerate by grouping xenapi.json's messages by (lowest role, client-cert) and class.
 */

/** Lowest role (and client-cert) → class → messages. */
export const MESSAGE_ROLES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'pool-admin': {
    session:
      'local_logout slave_local_login_with_password remove_from_other_config add_to_other_config set_other_config',
    subject: 'remove_from_roles add_to_roles destroy create',
    pool: 'set_ssh_auto_mode set_console_idle_timeout set_ssh_enabled_timeout disable_ssh enable_ssh reset_telemetry_uuid set_telemetry_next_collection set_custom_uefi_certificates set_uefi_certificates rotate_secret remove_from_guest_agent_config add_to_guest_agent_config has_extension enable_tls_verification send_test_post external_auth_set_ldaps disable_external_auth enable_external_auth',
    VM: 'get_secureboot_readiness set_uefi_mode query_services update_allowed_operations send_trigger send_sysrq',
    host: 'set_ssh_auto_mode set_console_idle_timeout set_ssh_enabled_timeout disable_ssh enable_ssh rescan_drivers set_numa_affinity_policy reset_server_certificate install_server_certificate refresh_server_certificate external_auth_set_ldaps disable_external_auth enable_external_auth call_extension has_extension call_plugin backup_rrds sync_data send_debug_keys',
    network: 'remove_purpose add_purpose',
    LVHD: 'enable_thin_provisioning',
    user: 'remove_from_other_config add_to_other_config set_other_config set_fullname destroy create',
    PUSB: 'set_passthrough_enabled scan remove_from_other_config add_to_other_config set_other_config',
    USB_group:
      'destroy create remove_from_other_config add_to_other_config set_other_config set_name_description set_name_label',
    VUSB: 'destroy unplug create remove_from_other_config add_to_other_config set_other_config',
    Observer:
      'set_components set_endpoints set_attributes set_enabled set_hosts set_name_description set_name_label destroy create',
    Host_driver: 'rescan deselect select',
    Driver_variant: 'select',
    Caller: 'set_name_description set_name_label destroy create',
    Rate_limit:
      'set_fill_rate set_burst_size remove_caller add_caller set_name_description set_name_label destroy create',
  },
  'pool-operator': {
    session: 'logout_subject_identifier',
    pool: 'get_guest_secureboot_readiness set_ext_auth_cache_expiry set_ext_auth_cache_size set_ext_auth_cache_enabled set_ext_auth_max_threads set_local_auth_max_threads set_update_sync_enabled configure_update_sync set_https_only set_igmp_snooping_enabled disable_ssl_legacy enable_ssl_legacy apply_edition disable_local_storage_caching enable_local_storage_caching test_archive_target set_vswitch_controller disable_redo_log enable_redo_log certificate_sync crl_list crl_uninstall crl_install certificate_list certificate_uninstall certificate_install send_wlb_configuration deconfigure_wlb initialize_wlb detect_nonhomogeneous_external_auth create_new_blob set_ha_host_failures_to_tolerate ha_compute_vm_failover_plan ha_compute_max_host_failures_to_tolerate ha_failover_plan_exists ha_prevent_restarts_for designate_new_master sync_database create_VLAN_from_PIF management_reconfigure create_VLAN recover_slaves emergency_reset_master emergency_transition_to_master eject join_force join set_auto_update_vm_secureboot_certificates set_vm_console_idle_timeout set_limit_console_sessions set_ha_reboot_vm_on_internal_shutdown remove_from_license_server add_to_license_server set_license_server set_coordinator_bias set_migration_compression set_is_psr_pending set_live_patching_disabled set_policy_no_vendor_device set_wlb_verify_cert remove_from_health_check_config add_to_health_check_config set_health_check_config set_ha_allow_overcommit remove_from_other_config add_to_other_config set_other_config set_crash_dump_SR set_suspend_image_SR set_default_SR set_name_description set_name_label',
    pool_patch:
      'clean_on_host destroy pool_clean clean precheck pool_apply apply remove_from_other_config add_to_other_config set_other_config',
    pool_update:
      'destroy pool_clean pool_apply apply precheck introduce remove_from_other_config add_to_other_config set_other_config',
    VM: 'import set_appliance set_suspend_VDI set_order set_shutdown_delay set_start_delay set_snapshot_schedule set_protection_policy set_ha_always_run set_ha_restart_priority power_state_reset',
    VMPP: 'remove_from_alarm_config remove_from_archive_schedule remove_from_archive_target_config remove_from_backup_schedule add_to_alarm_config add_to_archive_schedule add_to_archive_target_config add_to_backup_schedule set_alarm_config set_is_alarm_enabled set_archive_target_config set_archive_target_type set_archive_schedule set_archive_frequency set_backup_schedule set_backup_frequency set_backup_retention_value get_alerts protect_now set_backup_type set_is_policy_enabled set_name_description set_name_label destroy create',
    VMSS: 'set_type remove_from_schedule add_to_schedule set_schedule set_frequency set_retained_snapshots snapshot_now set_enabled set_name_description set_name_label destroy create',
    VM_appliance:
      'shutdown hard_shutdown clean_shutdown start set_name_description set_name_label destroy create',
    DR_task: 'destroy create',
    host: 'set_servertime set_timezone set_ntp_custom_servers set_ntp_mode set_max_cstate apply_recommended_guidances set_https_only set_multipathing set_iscsi_iqn set_ssl_legacy disable_display enable_display declare_dead disable_local_storage_caching enable_local_storage_caching reset_cpu_features set_cpu_features set_power_on_mode refresh_pack_info apply_edition create_new_blob set_hostname_live shutdown_agent restart_agent get_management_interface management_disable local_management_reconfigure management_reconfigure syslog_reconfigure assert_can_evacuate forget_data_source_archives record_data_source emergency_ha_disable power_on destroy license_remove license_add license_apply bugreport_upload dmesg_clear dmesg reboot shutdown set_display remove_from_guest_VCPUs_params add_to_guest_VCPUs_params set_guest_VCPUs_params remove_from_license_server add_to_license_server set_license_server set_address set_hostname set_crash_dump_sr set_suspend_image_sr remove_from_logging add_to_logging set_logging remove_from_other_config add_to_other_config set_other_config set_name_description set_name_label',
    host_crashdump: 'upload destroy remove_from_other_config add_to_other_config set_other_config',
    host_patch: 'apply destroy remove_from_other_config add_to_other_config set_other_config',
    host_metrics: 'remove_from_other_config add_to_other_config set_other_config',
    host_cpu: 'remove_from_other_config add_to_other_config set_other_config',
    network:
      'set_default_locking_mode create_new_blob remove_from_other_config add_to_other_config set_other_config set_name_description set_name_label',
    VIF: 'remove_ipv6_allowed add_ipv6_allowed set_ipv6_allowed remove_ipv4_allowed add_ipv4_allowed set_ipv4_allowed set_locking_mode',
    PIF: 'set_property db_forget db_introduce plug set_disallow_unplug unplug forget introduce scan set_primary_address_type reconfigure_ipv6 reconfigure_ip destroy create_VLAN remove_from_other_config add_to_other_config set_other_config',
    PIF_metrics: 'remove_from_other_config add_to_other_config set_other_config',
    Bond: 'set_property set_mode destroy create remove_from_other_config add_to_other_config set_other_config',
    VLAN: 'destroy create remove_from_other_config add_to_other_config set_other_config',
    SM: 'remove_from_other_config add_to_other_config set_other_config',
    SR: 'forget_data_source_archives record_data_source disable_database_replication enable_database_replication assert_supports_database_replication assert_can_host_ha_statefile set_physical_size create_new_blob set_name_description set_name_label set_shared probe_ext probe update forget destroy make introduce create remove_from_sm_config add_to_sm_config set_sm_config remove_from_other_config add_to_other_config set_other_config',
    VDI: 'open_database',
    PBD: 'set_device_config unplug plug remove_from_other_config add_to_other_config set_other_config destroy create',
    crashdump: 'destroy remove_from_other_config add_to_other_config set_other_config',
    blob: 'destroy create set_public set_name_description set_name_label',
    message: 'destroy_all destroy_many destroy create',
    secret:
      'get_all_records get_all remove_from_other_config add_to_other_config set_other_config set_value get_value get_uuid destroy create get_by_uuid get_record',
    tunnel:
      'destroy create set_protocol remove_from_other_config add_to_other_config set_other_config remove_from_status add_to_status set_status',
    network_sriov: 'destroy create',
    PCI: 'get_dom0_access_status enable_dom0_access disable_dom0_access remove_from_other_config add_to_other_config set_other_config',
    PGPU: 'disable_dom0_access enable_dom0_access set_GPU_group set_enabled_VGPU_types remove_enabled_VGPU_types add_enabled_VGPU_types remove_from_other_config add_to_other_config set_other_config',
    GPU_group:
      'destroy create set_allocation_algorithm remove_from_other_config add_to_other_config set_other_config set_name_description set_name_label',
    VGPU: 'destroy create set_extra_args remove_from_other_config add_to_other_config set_other_config',
    PVS_site: 'set_PVS_uuid forget introduce set_name_description set_name_label',
    PVS_server: 'forget introduce',
    PVS_proxy: 'destroy create',
    PVS_cache_storage: 'destroy create',
    SDN_controller: 'forget introduce',
    Cluster:
      'pool_resync pool_destroy pool_force_destroy pool_create destroy create remove_from_other_config add_to_other_config set_other_config',
    Cluster_host: 'disable force_destroy enable destroy create',
    Caller:
      'query_all_usage query_group_call_count query_group_token_usage query_call_count query_token_usage remove_group add_group',
  },
  'pool-operator+client-cert': {
    pool: 'sync_trusted_certificates_from uninstall_trusted_certificate install_trusted_certificate disable_repository_proxy configure_repository_proxy disable_client_certificate_auth enable_client_certificate_auth check_update_readiness sync_updates remove_repository add_repository set_repositories uninstall_ca_certificate install_ca_certificate disable_ha enable_ha set_wlb_enabled',
    host: 'apply_updates evacuate enable disable',
    Repository:
      'set_gpgkey_path forget introduce_remote_pool introduce_bundle introduce set_name_description set_name_label',
  },
  'vm-power-admin': {
    VM: 'create_new_blob assert_can_migrate migrate_send set_shadow_multiplier_live set_HVM_shadow_multiplier set_memory_target_live set_memory set_memory_limits set_memory_static_range set_memory_static_min set_memory_static_max set_memory_dynamic_range set_memory_dynamic_min set_memory_dynamic_max checkpoint revert snapshot_with_quiesce snapshot set_affinity',
    VMPP: 'archive_now',
    host: 'migrate_receive',
    SR: 'scan',
    VDI: 'revert pool_migrate',
  },
  'vm-power-admin+client-cert': {
    VM: 'restart_device_models pool_migrate resume_on start_on',
  },
  'vm-admin': {
    VM: 'set_platform remove_from_platform add_to_platform set_other_config remove_from_other_config add_to_other_config sysprep remove_from_blocked_operations add_to_blocked_operations set_blocked_operations update_secureboot_certificates_on_boot set_HVM_boot_policy set_domain_type set_actions_after_crash set_has_vendor_device set_groups import_convert copy_bios_strings set_bios_strings forget_data_source_archives record_data_source set_VCPUs_at_startup set_VCPUs_max remove_from_NVRAM add_to_NVRAM set_NVRAM add_to_VCPUs_params_live set_VCPUs_number_live provision copy clone set_hardware_platform_version set_suspend_SR remove_from_xenstore_data add_to_xenstore_data set_xenstore_data set_recommendations set_PCI_bus remove_from_HVM_boot_params add_to_HVM_boot_params set_HVM_boot_params set_PV_legacy_args set_PV_bootloader_args set_PV_args set_PV_ramdisk set_PV_kernel set_PV_bootloader set_actions_after_reboot set_actions_after_shutdown set_actions_after_softreboot remove_from_VCPUs_params add_to_VCPUs_params set_VCPUs_params set_is_a_template set_user_version set_name_description set_name_label destroy create',
    VM_metrics: 'remove_from_other_config add_to_other_config set_other_config',
    VM_guest_metrics: 'remove_from_other_config add_to_other_config set_other_config',
    network: 'set_MTU destroy create',
    VIF: 'set_trunks remove_trunks add_trunks move unplug_force unplug plug remove_from_qos_algorithm_params add_to_qos_algorithm_params set_qos_algorithm_params set_qos_algorithm_type remove_from_other_config add_to_other_config set_other_config destroy create',
    VIF_metrics: 'remove_from_other_config add_to_other_config set_other_config',
    VDI: 'get_nbd_info data_destroy disable_cbt enable_cbt set_allow_caching set_on_boot set_name_description set_name_label set_read_only set_sharable forget copy update introduce resize_online resize clone snapshot remove_from_sm_config add_to_sm_config set_sm_config remove_from_xenstore_data add_to_xenstore_data set_xenstore_data remove_from_other_config add_to_other_config set_other_config destroy create',
    VBD: 'set_mode assert_attachable unplug_force unplug plug remove_from_qos_algorithm_params add_to_qos_algorithm_params set_qos_algorithm_params set_qos_algorithm_type remove_from_other_config add_to_other_config set_other_config set_unpluggable set_type set_bootable set_userdevice destroy create',
    VBD_metrics: 'remove_from_other_config add_to_other_config set_other_config',
    VTPM: 'destroy create',
    console: 'remove_from_other_config add_to_other_config set_other_config destroy create',
    VM_group: 'set_name_description set_name_label destroy create',
  },
  'vm-operator': {
    pool: 'remove_from_gui_config add_to_gui_config set_gui_config remove_tags add_tags set_tags',
    VM: 'call_host_plugin call_plugin resume hard_reboot hard_shutdown clean_reboot clean_shutdown unpause pause start remove_tags add_tags set_tags',
    host: 'remove_tags add_tags set_tags',
    network: 'remove_tags add_tags set_tags',
    VIF: 'configure_ipv6 configure_ipv4',
    SR: 'remove_tags add_tags set_tags',
    VDI: 'list_changed_blocks remove_tags add_tags set_tags',
    VBD: 'insert eject',
  },
  'vm-operator+client-cert': {
    VM: 'suspend shutdown',
  },
  'read-only+client-cert': {
    session: 'logout login_with_password',
    task: 'set_other_config remove_from_other_config add_to_other_config set_error_info set_result set_progress set_status cancel destroy create',
    event: 'inject from next unregister register',
    pool: 'retrieve_wlb_recommendations retrieve_wlb_configuration ha_compute_hypothetical_max_host_failures_to_tolerate',
    VM: 'recover assert_can_be_recovered retrieve_wlb_recommendations assert_agile assert_can_boot_here assert_operation_valid query_data_source maximise_memory wait_memory_target_live compute_memory_overhead',
    VM_appliance: 'recover assert_can_be_recovered',
    host: 'list_timezones retrieve_wlb_evacuate_recommendations compute_memory_overhead compute_free_memory query_data_source list_methods',
    SR: 'query_data_source',
    VDI: 'read_database_pool_uuid',
    message: 'get',
  },
  'local-root-only': {
    host: 'get_sched_gran',
  },
};
