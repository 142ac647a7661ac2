import { routeRequest } from './router.ts';

/** The API function: API Gateway HTTP API (payload 2.0) events, routed by router.ts. */
export const handler = routeRequest;
