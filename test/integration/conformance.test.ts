// The XenAPI conformance suite against the simulator (or a real host when XENLAB_XAPI_URL is set).
import { defineXapiConformance } from '../conformance/xapi.js';

defineXapiConformance();
