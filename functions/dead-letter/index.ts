import { handleDeadLetters } from '#shared/worker/dead-letters.ts';

export const handler = handleDeadLetters;
