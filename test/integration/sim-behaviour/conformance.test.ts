// Behaviour conformance against the simulator (or a real pool when XENLAB_XAPI_URL is set).
import { defineBehaviourConformance } from '../../conformance/behaviour.js';

defineBehaviourConformance();
