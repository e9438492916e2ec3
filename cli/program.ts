/**
 * `tether`: the operator CLI of the API (api/openapi.yaml). Built on commander (subcommands,
 * generated help, option parsing); every failure leaves through {@link run} with one of the
 * stable exit codes of ./exit-codes.
 */
import { Command, CommanderError, Option } from 'commander';
import { DEFAULT_ENDPOINT } from './client';
import { clusterCommand } from './commands/cluster';
import { linkCommand } from './commands/link';
import { planCommand } from './commands/plan';
import { parseCallerArn, parseDuration, VERSION } from './context';
import { CliError, EXIT, EXIT_CODES_HELP } from './exit-codes';
import { type Io, styleFor, writeLine } from './output';

/** The command line's program. Actions report failure by throwing a {@link CliError}. */
export function buildProgram(io: Io, noColor = false): Command {
  const program = new Command('tether');
  program
    .description(
      'Operate Tether links: one Kubernetes workload → an EKS cluster in another AWS account.\n' +
        `Talks to the local runtime (npm start, ${DEFAULT_ENDPOINT}) or to a deployed hub, signing with SigV4.`,
    )
    .version(VERSION, '-V, --version')
    .configureOutput({
      writeOut: (s) => io.out.write(s),
      writeErr: (s) => io.err.write(s),
      outputError: (s, write) => write(styleFor(io.err, io.env, noColor).fail(s)),
    })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addOption(
      new Option(
        '--endpoint <url>',
        'the API: the local runtime, or a hub (https://{api}.execute-api.{region}.amazonaws.com)',
      )
        .env('TETHER_ENDPOINT')
        // commander reads process.env itself; the default comes from the CLI's own env (tests run it in-process).
        .default(io.env.TETHER_ENDPOINT || DEFAULT_ENDPOINT, DEFAULT_ENDPOINT),
    )
    .addOption(
      new Option(
        '--region <region>',
        'region to sign for (default: from the hub URL, then AWS_REGION / AWS_DEFAULT_REGION)',
      ),
    )
    .addOption(
      new Option('--profile <name>', 'AWS profile for the credentials (default: the standard chain)'),
    )
    .addOption(
      new Option(
        '--caller <arn>',
        'act as this IAM principal on the local runtime (x-tether-caller; default: its operator). Refused for any other endpoint',
      )
        .env('TETHER_CALLER')
        .argParser(parseCallerArn),
    )
    .addOption(new Option('--sign', 'sign requests with SigV4 (default: every endpoint but loopback)'))
    .addOption(new Option('--no-sign', 'never sign requests'))
    .addOption(new Option('--no-color', 'no colour (also: NO_COLOR=1)'))
    .addOption(
      new Option('--poll-interval <duration>', 'how often --wait reads the link')
        .argParser(parseDuration)
        .default(io.env.TETHER_POLL_INTERVAL ? parseDuration(io.env.TETHER_POLL_INTERVAL) : 500)
        .env('TETHER_POLL_INTERVAL')
        .hideHelp(),
    )
    .addOption(
      new Option('--request-timeout <duration>', 'timeout of one API request')
        .argParser(parseDuration)
        .default(30_000)
        .hideHelp(),
    )
    .addHelpText(
      'after',
      `
Examples:
  tether link create --source 111111111111/ap-southeast-1/cluster-a/kubeai-chatbot/kubeai-chatbot \\
      --target 222222222222/ap-southeast-1/cluster-b --policy AmazonEKSViewPolicy --wait
  tether link create -f request.yaml --wait
  tether link list --status ACTIVE -o json
  tether cluster register 111111111111/eu-west-1/k3s-lab --jwks jwks.json
  tether link kubeconfig lnk_… --merge --set-context
  tether --caller arn:aws:iam::222222222222:role/cluster-owner link approve lnk_… --reason "ticket 42"
  tether --endpoint https://abc123.execute-api.eu-west-1.amazonaws.com link list

Environment:
  TETHER_ENDPOINT      the API (default ${DEFAULT_ENDPOINT})
  TETHER_CALLER        as --caller (the local runtime only)
  AWS_PROFILE, AWS_REGION, AWS_ACCESS_KEY_ID, …   the standard AWS credential chain, for signing
  NO_COLOR             no colour

${EXIT_CODES_HELP}
`,
    );

  program.addCommand(linkCommand(io));
  program.addCommand(planCommand(io));
  program.addCommand(clusterCommand(io));
  inheritSettings(program);
  return program;
}

/** addCommand does not pass the program's settings down (exitOverride, output, help after errors): pass them. */
function inheritSettings(parent: Command): void {
  for (const child of parent.commands) {
    child.copyInheritedSettings(parent);
    inheritSettings(child);
  }
}

/** Runs the CLI with `argv` (without node and the script); resolves to the exit code. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  // Errors may be written before the options are parsed: look for --no-color by hand.
  const noColor = argv.includes('--no-color');
  const program = buildProgram(io, noColor);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end with code 0; anything else commander refuses is a usage error.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (err instanceof CliError) {
      writeLine(io.err, styleFor(io.err, io.env, noColor).fail(err.message));
      return err.exitCode;
    }
    // A failure of the CLI itself: say so, with the stack, under the API-error code.
    writeLine(io.err, `error INTERNAL: ${(err as Error)?.stack ?? String(err)}`);
    return EXIT.API_ERROR;
  }
}
