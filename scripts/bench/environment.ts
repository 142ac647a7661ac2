/**
 * Imported first by main.ts, before anything that loads the handlers' logger: the environment the
 * bench started with (for its child processes, which run as `npm start` would), then this
 * process's own settings. The handlers run in this process too, and their per-job INFO lines
 * would bury the table.
 */
// Metrics lines (EMF on stdout) would mix with what child processes report on stdout; the bench
// measures, it does not publish.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
export const startEnv: NodeJS.ProcessEnv = { ...process.env };

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
