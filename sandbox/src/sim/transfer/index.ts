/**
 * Import and export over HTTP (`/export`, `/export_metadata`, `/import`, `/export_raw_vdi`, `/import_raw_vdi`), the
 * disk contents they move, and the certificate of a simulator listening with HTTPS. See README.md beside the
 * simulator ("Import and export").
 * @module
 */
export { transferRoute, MAX_CONCURRENT_TRANSFERS, MAX_OVA_XML_BYTES, type TransferOptions } from './http.js';
export {
  DiskContents,
  BLOCK_SIZE,
  DEFAULT_MAX_DISK_BYTES,
  DEFAULT_PERSIST_MAX_BYTES,
  type DiskContentsOptions,
} from './contents.js';
export { selfSignedCertificate, fingerprintOf, type TlsMaterial } from './tls.js';
