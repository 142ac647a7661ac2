import { routeRequest } from '#shared/api/router.ts';

export const handler = routeRequest;
