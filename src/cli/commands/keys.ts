/**
 * `remitnet keys create|list|revoke`: API keys, managed on the database directly (this is
 * how the first operator key comes to exist, before anyone can call the API). A key is
 * printed once, at creation; only its SHA-256 hash is stored.
 */
import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { ROLES, type Role } from '../../api/keys.ts';
import { ApiKeyStore } from '../../api/keys.ts';
import { agentExistsOf } from '../../api/domain.ts';
import { openRuntime, type Runtime } from '../../api/runtime.ts';
import { outputFor, table } from '../output.ts';

async function withKeys<T>(fn: (keys: ApiKeyStore, runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await openRuntime(loadConfig(), { expiryInterval_ms: 0 });
  try {
    return await fn(new ApiKeyStore(runtime.sql), runtime);
  } finally {
    await runtime.close();
  }
}

export function registerKeys(program: Command): void {
  const keys = program
    .command('keys')
    .description('create, list and revoke API keys (stored only as hashes)')
    .addHelpText(
      'after',
      `
Roles:
  operator  administers the network: agents, links, rates, suspensions, write-offs, keys
  agent     acts as one agent: sees and acts only on its own remittances, tasks, accounts
  auditor   reads everything, changes nothing

Examples:
  remitnet keys create --role operator --label "ops laptop"
  remitnet keys create --role agent --agent 0192f5a1c3d40000a1b2c3d4e5f60718
  remitnet keys list
  remitnet keys revoke 0192f5a1c3d40000a1b2c3d4e5f60718`,
    );

  keys
    .command('create')
    .description('create a key and print it once; store it somewhere safe')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option('--agent <id>', 'for --role agent: the agent this key acts as (32 hex digits)')
    .option('--label <text>', 'a note to recognise the key by in listings', '')
    .action(async (opts: { role: string; agent?: string; label: string }, cmd: Command) => {
      const out = outputFor(cmd);
      if (!(ROLES as readonly string[]).includes(opts.role)) {
        throw new Error(`--role must be one of ${ROLES.join(', ')}, not ${opts.role}`);
      }
      const created = await withKeys(async (k, runtime) => {
        const agentId = opts.agent?.toLowerCase() ?? null;
        if (agentId !== null && !(await agentExistsOf(runtime.remitnet)(agentId))) {
          throw new Error(
            `no agent has the id ${agentId}; create it first (POST /v1/agents), then make its key`,
          );
        }
        return k.create({ role: opts.role as Role, agentId, label: opts.label });
      });
      out.result({ key: created.key, ...created.info }, () => [
        `key:   ${created.key}`,
        `id:    ${created.info.keyId}`,
        `role:  ${created.info.role}${created.info.agentId === null ? '' : ` (agent ${created.info.agentId})`}`,
        '',
        'This is the only time the key is shown. Use it as: Authorization: Bearer <key>',
      ]);
    });

  keys
    .command('list')
    .description('list keys: id, prefix, role, agent, label, created, revoked (never the keys)')
    .action(async (_opts: unknown, cmd: Command) => {
      const out = outputFor(cmd);
      const list = await withKeys((k) => k.list());
      out.result(list, () =>
        list.length === 0
          ? 'no keys yet; create one with `remitnet keys create --role operator`'
          : table([
              ['ID', 'PREFIX', 'ROLE', 'AGENT', 'CREATED', 'REVOKED', 'LABEL'],
              ...list.map((k) => [
                k.keyId,
                k.prefix + '…',
                k.role,
                k.agentId ?? '-',
                k.createdAt,
                k.revokedAt ?? '-',
                k.label,
              ]),
            ]),
      );
    });

  keys
    .command('revoke')
    .description('revoke a key by its id; it stops working within a second')
    .argument('<id>', 'the key id shown by `remitnet keys list`')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const out = outputFor(cmd);
      const ok = await withKeys((k) => k.revoke(id.toLowerCase()));
      if (!ok) throw new Error(`no key has id ${id}; see \`remitnet keys list\``);
      out.result({ id, revoked: true }, () => `revoked ${id}`);
    });
}
