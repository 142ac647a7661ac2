import { parseArgs } from 'node:util';
import { z } from 'zod';
import { runSoak, SOAK_DEFAULTS, type SoakReport } from './run.ts';

/**
 * `npm run soak -- --images N [--bad M] [--cloud-kills K] [--cli-kills K] [--seed S] [--keep] [--max-minutes T]`
 * N distinct images and M bad files through `npm run backfill` against `npm start` (each a child
 * process on a private state folder and free ports), the cloud SIGKILLed or Ctrl-C'd and the CLI
 * SIGKILLed and resumed at seeded moments; then an audit. Exit 0 if the audit passes, 1 if not, 2 usage.
 */

const usage = `usage: npm run soak -- --images N [options]
  --images N         distinct images to generate (required)
  --bad M            bad files: truncated JPEG, SVG, text named .jpg, empty (default ${SOAK_DEFAULTS.bad})
  --cloud-kills K    times the local cloud is stopped mid-run: SIGKILL, or now and then one Ctrl-C (default ${SOAK_DEFAULTS.cloudKills})
  --cli-kills K      times the backfill is SIGKILLed and resumed (default ${SOAK_DEFAULTS.cliKills})
  --seed S           the images and the moments of the disruptions (default ${SOAK_DEFAULTS.seed})
  --max-minutes T    give up (and fail) after this long (default ${SOAK_DEFAULTS.maxMinutes})
  --keep             keep the work folder (images, results, state, the cloud's state)`;

const count = z.coerce.number().int().min(0);
const Flags = z.object({
  images: z.coerce.number().int().min(1),
  bad: count.default(SOAK_DEFAULTS.bad),
  'cloud-kills': count.default(SOAK_DEFAULTS.cloudKills),
  'cli-kills': count.default(SOAK_DEFAULTS.cliKills),
  seed: z.coerce.number().int().default(SOAK_DEFAULTS.seed),
  'max-minutes': z.coerce.number().positive().default(SOAK_DEFAULTS.maxMinutes),
  keep: z.boolean().default(false),
});

export function formatReport(report: SoakReport): string {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const valueWidth = Math.max(...report.checks.map((c) => c.value.length));
  const lines = report.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(width)}  ${c.value.padStart(valueWidth)}`);
  for (const c of report.checks.filter((c) => !c.ok)) {
    lines.push('', `${c.name}:`, ...c.examples.map((e) => `  ${e}`));
  }
  const cloud = report.fired.filter((f) => f.disruption.target === 'cloud');
  const kills = cloud.filter((f) => f.disruption.signal === 'SIGKILL').length;
  const cliKills = report.fired.length - cloud.length;
  lines.push(
    '',
    `${report.files} files; the local cloud SIGKILLed ${kills}×, Ctrl-C'd ${cloud.length - kills}×` +
      `${cloud.some((f) => f.forced) ? ' (a drain outlasted its limit: killed)' : ''}; the backfill SIGKILLed ${cliKills}×, run ${report.cliRuns.length}× ` +
      `(exits: ${report.cliRuns.map((r) => (r.killed ? 'killed' : (r.exit.code ?? r.exit.signal))).join(', ')})`,
    `${(report.elapsedMs / 1000).toFixed(0)} s; ${report.ok ? 'audit passed' : 'AUDIT FAILED'}`,
  );
  return lines.join('\n');
}

async function main(): Promise<number> {
  let flags: z.infer<typeof Flags>;
  try {
    const { values } = parseArgs({
      options: {
        images: { type: 'string' },
        bad: { type: 'string' },
        'cloud-kills': { type: 'string' },
        'cli-kills': { type: 'string' },
        seed: { type: 'string' },
        'max-minutes': { type: 'string' },
        keep: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(usage);
      return 0;
    }
    const parsed = Flags.safeParse(values);
    if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; '));
    flags = parsed.data;
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    return 2;
  }
  const report = await runSoak({
    images: flags.images,
    bad: flags.bad,
    cloudKills: flags['cloud-kills'],
    cliKills: flags['cli-kills'],
    seed: flags.seed,
    maxMinutes: flags['max-minutes'],
    keep: flags.keep,
    log: (line) => console.error(line),
  });
  console.log(formatReport(report));
  if (flags.keep) console.log(`work folder: ${report.workDir}`);
  return report.ok ? 0 : 1;
}

process.exitCode = await main();
