/**
 * The client-side commands: `agents`, `quote`, `send`, `status`, `payout`, `export`. They
 * talk to a running server over HTTP (--url/--key or REMITNET_URL/REMITNET_KEY), so they
 * pass the same access control, idempotency and validation as any client (docs/cli.md).
 */
import { createWriteStream, openSync } from 'node:fs';
import type { Command } from 'commander';
import { clientFor, clientOptions } from '../http.ts';
import { outputFor, table } from '../output.ts';

interface WireMoney {
  amount: string;
  currency: string;
}
const fmt = (m: WireMoney | null | undefined) => (m == null ? '-' : `${m.amount} ${m.currency}`);

/** "500000 KRW" or "500000KRW" -> { amount, currency }. */
export function parseMoneyArg(text: string, flag: string): WireMoney {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]{3})\s*$/.exec(text);
  if (m === null) throw new Error(`${flag} takes an amount and a currency, such as "500000 KRW"`);
  return { amount: m[1]!, currency: m[2]!.toUpperCase() };
}

interface Remittance {
  id: string;
  state: string;
  corridor: string;
  send: WireMoney;
  deliver: WireMoney;
  awaiting_agent_id: string | null;
  created_at: string;
  origin_agent_id: string;
  payout_agent_id: string;
}

export function registerClientCommands(program: Command): void {
  // ---- agents ------------------------------------------------------------------------
  const agents = program
    .command('agents')
    .description('list agents or show one (over HTTP; operator or auditor key to list)');
  clientOptions(
    agents
      .command('list', { isDefault: true })
      .description('list agents')
      .option('--status <status>', 'active, suspended or unreachable')
      .option('--country <cc>', 'ISO 3166-1 alpha-2 country'),
  ).action(async (opts: { status?: string; country?: string }, cmd: Command) => {
    const out = outputFor(cmd);
    const api = clientFor(cmd);
    const items: Array<Record<string, unknown>> = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 1000; pages++) {
      const q = new URLSearchParams({ limit: '500' });
      if (opts.status !== undefined) q.set('status', opts.status);
      if (opts.country !== undefined) q.set('country', opts.country);
      if (cursor !== null) q.set('cursor', cursor);
      const page: { items: Array<Record<string, unknown>>; next_cursor: string | null } =
        await api.get(`/v1/agents?${q}`);
      items.push(...page.items);
      cursor = page.next_cursor;
      if (cursor === null) break;
    }
    out.result(items, () =>
      table([
        ['ID', 'NAME', 'WHERE', 'ROLES', 'CURRENCIES', 'STATUS'],
        ...items.map((a) => {
          const loc = a.location as { city: string; country: string };
          return [
            String(a.id),
            String(a.name),
            `${loc.city}, ${loc.country}`,
            (a.roles as string[]).join(','),
            (a.currencies as string[]).join(','),
            String(a.status),
          ];
        }),
      ]),
    );
  });
  clientOptions(
    agents.command('show').description('one agent and its exposure').argument('<id>', 'agent id'),
  ).action(async (id: string, _opts: unknown, cmd: Command) => {
    const out = outputFor(cmd);
    const api = clientFor(cmd);
    const agent: Record<string, unknown> = await api.get(`/v1/agents/${id}`);
    const exposure: { lines: Array<Record<string, WireMoney | string>> } = await api.get(
      `/v1/agents/${id}/exposure`,
    );
    out.result({ agent, exposure }, () => [
      `${String(agent.name)} (${String(agent.status)})`,
      ...table([
        ['CURRENCY', 'LIMIT', 'OWES', 'OWES+PENDING', 'CASH', 'HEADROOM'],
        ...exposure.lines.map((l) => [
          String(l.currency),
          fmt(l.limit as WireMoney),
          fmt(l.owes_posted as WireMoney),
          fmt(l.owes_including_pending as WireMoney),
          fmt(l.cash_on_hand as WireMoney),
          fmt(l.headroom as WireMoney),
        ]),
      ]),
    ]);
  });

  // ---- quote -------------------------------------------------------------------------
  clientOptions(
    program
      .command('quote')
      .description('price routes to a recipient (best first: cost, then speed, then record)')
      .requiredOption('--to <country/region>', 'where the recipient is, e.g. KP/Ryanggang')
      .requiredOption('--currency <code>', 'what the recipient gets, e.g. CNY')
      .option('--send <amount>', 'what the sender hands over, e.g. "500000 KRW"')
      .option('--deliver <amount>', 'what the recipient gets instead, e.g. "2000 CNY"')
      .option('--send-currency <code>', 'with --deliver: what the sender pays in')
      .option('--from <agent>', 'origin agent id (agent keys quote from themselves)')
      .option('--options <n>', 'how many routes to show (1-10)', '3')
      .addHelpText(
        'after',
        `
Example:
  remitnet quote --to KP/Ryanggang --currency CNY --send "500000 KRW" --from <agent id>
The cost column is fees plus FX margin as a percentage, measured as the World Bank does
(global average about 6.2%; the UN target is under 3%).`,
      ),
  ).action(
    async (
      opts: {
        to: string;
        currency: string;
        send?: string;
        deliver?: string;
        sendCurrency?: string;
        from?: string;
        options: string;
      },
      cmd: Command,
    ) => {
      const out = outputFor(cmd);
      const [country, region] = opts.to.split('/');
      if (country === undefined || region === undefined) {
        throw new Error('--to takes COUNTRY/REGION, e.g. KP/Ryanggang');
      }
      if ((opts.send === undefined) === (opts.deliver === undefined)) {
        throw new Error('give exactly one of --send or --deliver');
      }
      const body = {
        payout_country: country.toUpperCase(),
        payout_region: region,
        payout_currency: opts.currency.toUpperCase(),
        ...(opts.from === undefined ? {} : { origin_agent_id: opts.from }),
        ...(opts.send === undefined ? {} : { send: parseMoneyArg(opts.send, '--send') }),
        ...(opts.deliver === undefined
          ? {}
          : { deliver: parseMoneyArg(opts.deliver, '--deliver') }),
        ...(opts.sendCurrency === undefined
          ? {}
          : { send_currency: opts.sendCurrency.toUpperCase() }),
        options: Number(opts.options),
      };
      const r: { quotes: Array<Record<string, unknown>> } = await clientFor(cmd).post(
        '/v1/quotes',
        body,
      );
      out.result(r, () =>
        table([
          ['QUOTE', 'SEND', 'DELIVER', 'HOPS', 'COST %', 'MINUTES', 'EXPIRES'],
          ...r.quotes.map((q) => [
            String(q.id),
            fmt(q.send as WireMoney),
            fmt(q.deliver as WireMoney),
            String(q.hops),
            (q.total_cost as { percent: string }).percent,
            String(q.expected_minutes),
            String(q.expires_at),
          ]),
        ]),
      );
    },
  );

  // ---- send --------------------------------------------------------------------------
  clientOptions(
    program
      .command('send')
      .description(
        'create a remittance from a quote (and fund it with --fund); prints the payout code once',
      )
      .requiredOption('--quote <id>', 'a quote id from `remitnet quote`')
      .requiredOption('--sender <id>', 'the sender (a customer id)')
      .requiredOption('--recipient <id>', 'the recipient (a customer id)')
      .option('--codeword <word>', 'a codeword agreed with the family, where the corridor asks one')
      .option('--fund', "also record that the origin agent took the sender's cash"),
  ).action(
    async (
      opts: { quote: string; sender: string; recipient: string; codeword?: string; fund?: boolean },
      cmd: Command,
    ) => {
      const out = outputFor(cmd);
      const api = clientFor(cmd);
      const created: { remittance: Remittance; payout_code: string | null } = await api.post(
        '/v1/remittances',
        {
          quote_id: opts.quote,
          sender_id: opts.sender,
          recipient_id: opts.recipient,
          ...(opts.codeword === undefined ? {} : { codeword: opts.codeword }),
        },
      );
      let r = created.remittance;
      if (opts.fund === true) r = await clientFor(cmd).post(`/v1/remittances/${r.id}/fund`, {});
      out.result({ remittance: r, payout_code: created.payout_code }, () => [
        `remittance ${r.id}: ${r.state}, ${fmt(r.send)} -> ${fmt(r.deliver)}`,
        created.payout_code === null
          ? 'payout code: not shown (this was a retry; it is shown only once)'
          : `payout code: ${created.payout_code}  (give it to the sender for the family; it is not shown again)`,
      ]);
    },
  );

  // ---- status ------------------------------------------------------------------------
  clientOptions(
    program
      .command('status')
      .description("a remittance's state and timeline")
      .argument('<id>', 'remittance id'),
  ).action(async (id: string, _opts: unknown, cmd: Command) => {
    const out = outputFor(cmd);
    const api = clientFor(cmd);
    const r: Remittance = await api.get(`/v1/remittances/${id}`);
    const t: { items: Array<{ at: string; state: string; message: string }> } = await api.get(
      `/v1/remittances/${id}/timeline`,
    );
    out.result({ remittance: r, timeline: t.items }, () => [
      `${r.id}  ${r.state}  ${fmt(r.send)} -> ${fmt(r.deliver)}  (${r.corridor})`,
      ...t.items.map((e) => `  ${e.at}  ${e.state.padEnd(10)} ${e.message}`),
    ]);
  });

  // ---- payout ------------------------------------------------------------------------
  clientOptions(
    program
      .command('payout')
      .description('record that the payout agent paid the recipient, against the payout code')
      .argument('<id>', 'remittance id')
      .option('--code <code>', 'the payout code the recipient gives')
      .option('--codeword <word>', 'the codeword, where the corridor requires one')
      .option('--id-document <ref>', "the recipient's ID document reference, where required"),
  ).action(
    async (
      id: string,
      opts: { code?: string; codeword?: string; idDocument?: string },
      cmd: Command,
    ) => {
      const out = outputFor(cmd);
      const r: Remittance = await clientFor(cmd).post(`/v1/remittances/${id}/payout`, {
        ...(opts.code === undefined ? {} : { code: opts.code }),
        ...(opts.codeword === undefined ? {} : { codeword: opts.codeword }),
        ...(opts.idDocument === undefined ? {} : { id_document_ref: opts.idDocument }),
      });
      out.result(r, () => `${r.id}: ${r.state}`);
    },
  );

  // ---- export ------------------------------------------------------------------------
  clientOptions(
    program
      .command('export')
      .description('export remittances (or an agent statement) as CSV, page by page')
      .argument('[what]', 'remittances or statement', 'remittances')
      .option('--agent <id>', 'for statement: the agent; for remittances: only this agent')
      .option('--currency <code>', 'for statement: the currency')
      .option('--state <state>', 'for remittances: only this state')
      .option('--out <file>', 'write to a file instead of stdout'),
  ).action(
    async (
      what: string,
      opts: { agent?: string; currency?: string; state?: string; out?: string },
      cmd: Command,
    ) => {
      const out = outputFor(cmd);
      const api = clientFor(cmd);
      // Open the file before asking the server anything: a path that cannot be written is
      // one clear error, not an unhandled stream error later.
      let sink: NodeJS.WritableStream = process.stdout;
      if (opts.out !== undefined) {
        let fd: number;
        try {
          fd = openSync(opts.out, 'w');
        } catch (error) {
          throw new Error(`cannot write ${opts.out}: ${(error as Error).message}`);
        }
        const file = createWriteStream(opts.out, { fd });
        file.on('error', () => undefined); // reported by the end() below, once
        sink = file;
      }
      const write = (cells: readonly string[]) => sink.write(cells.map(csvCell).join(',') + '\n');
      let path: string;
      let header: string[];
      let row: (x: Record<string, unknown>) => string[];
      if (what === 'remittances') {
        const q = new URLSearchParams({ limit: '500' });
        if (opts.agent !== undefined) q.set('agent_id', opts.agent);
        if (opts.state !== undefined) q.set('state', opts.state);
        path = `/v1/remittances?${q}`;
        header = [
          'id',
          'created_at',
          'state',
          'corridor',
          'send_amount',
          'send_currency',
          'deliver_amount',
          'deliver_currency',
          'origin_agent_id',
          'payout_agent_id',
        ];
        row = (x) => {
          const r = x as unknown as Remittance;
          return [
            r.id,
            r.created_at,
            r.state,
            r.corridor,
            r.send.amount,
            r.send.currency,
            r.deliver.amount,
            r.deliver.currency,
            r.origin_agent_id,
            r.payout_agent_id,
          ];
        };
      } else if (what === 'statement') {
        if (opts.agent === undefined || opts.currency === undefined) {
          throw new Error('export statement needs --agent and --currency');
        }
        path = `/v1/agents/${opts.agent}/statement?currency=${opts.currency.toUpperCase()}&limit=1000`;
        header = [
          'timestamp',
          'transfer_id',
          'debit_account_id',
          'credit_account_id',
          'amount',
          'currency',
          'code',
          'flags',
        ];
        row = (x) => {
          const amount = x.amount as WireMoney;
          return [
            String(x.timestamp),
            String(x.id),
            String(x.debit_account_id),
            String(x.credit_account_id),
            amount.amount,
            amount.currency,
            String(x.code),
            (x.flags as string[]).join('|'),
          ];
        };
      } else {
        throw new Error('export takes remittances or statement');
      }
      write(header);
      const progress = out.progress(`export ${what}`, 0);
      let cursor: string | null = null;
      let rows = 0;
      for (let pages = 0; pages < 100_000; pages++) {
        const page: { items: Array<Record<string, unknown>>; next_cursor: string | null } =
          await api.get(cursor === null ? path : `${path}&cursor=${encodeURIComponent(cursor)}`);
        for (const x of page.items) write(row(x));
        rows += page.items.length;
        progress.tick(page.items.length);
        cursor = page.next_cursor;
        if (cursor === null) break;
      }
      progress.done();
      if (sink !== process.stdout) {
        await new Promise<void>((resolve, reject) => {
          (sink as import('node:fs').WriteStream).once('error', (e) =>
            reject(new Error(`cannot write ${opts.out}: ${e.message}`)),
          );
          sink.end(() => resolve());
        });
      }
      out.note(`${rows} rows${opts.out === undefined ? '' : ` written to ${opts.out}`}`);
    },
  );
}

/** RFC 4180 cell; a leading =, +, - or @ is prefixed with ' so spreadsheets do not run it. */
export function csvCell(value: string): string {
  const safe = /^[=+\-@]/.test(value) && !/^-?[0-9.]+$/.test(value) ? `'${value}` : value;
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
