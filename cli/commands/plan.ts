/** `tether plan`: what `link create` would do (POST /plans); changes nothing. */
import { Command } from 'commander';
import { formatData, type Io, styleFor, writeLine } from '../output';
import { contextOf, outputOption } from '../context';
import { planText } from '../render';
import { buildRequest } from '../request';
import { addRequestOptions, requestFlagsOf } from './request-options';

export function planCommand(io: Io): Command {
  const cmd = new Command('plan')
    .description(
      'dry-run an onboarding request: the checks, and per target what would be made (changes nothing)',
    )
    .addOption(outputOption());
  addRequestOptions(cmd).action(async (opts, self: Command) => {
    const ctx = contextOf(io, self);
    const body = await buildRequest(requestFlagsOf(opts), io.stdin);
    const plan = (await ctx.client().send('POST', '/plans', { body })).body;
    if (opts.output === 'table')
      writeLine(io.out, planText(plan, styleFor(io.out, io.env, !ctx.globals.color)));
    else io.out.write(formatData(opts.output, plan));
  });
  return cmd;
}
