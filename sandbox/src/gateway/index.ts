/**
 * The gateway: serves the course site, mints WebSocket tickets and joins browser terminals to sandbox shells.
 * @module
 */
export { createGateway, type Gateway, type GatewayOptions } from './server.js';
export { serve, SERVE_HELP, type ServeIo } from './main.js';
export { OriginPolicy } from './origins.js';
export { TicketIssuer } from './tickets.js';
