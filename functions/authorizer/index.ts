import { authorizeRequest } from '#shared/auth/authorizer.ts';

export const handler = authorizeRequest;
