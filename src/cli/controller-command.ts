import type { Command } from 'commander';
import { parseDuration } from '../api/duration.ts';
import type { PrometheusConfig } from '../metrics/provider-config.ts';
import { CONTROLLER_DEFAULTS as D } from '../controller/defaults.ts';
import { UsageError } from './usage-error.ts';
import { examples, kubeFlags, type KubeFlags, type Outcome } from './flags.ts';

/** The controller's flags as commander gives them; a new flag is one `.option()` below and one field here. */
export interface ControllerFlags extends KubeFlags {
  leaderElect: boolean;
  leaseNamespace?: string;
  leaseName?: string;
  metricsBindAddress: string;
  workers: string;
  resync: string;
  qps?: string;
  burst?: string;
  logLevel?: string;
  prometheusAddress?: string;
  prometheusConfig?: string;
}

export function defineControllerCommand(program: Command, outcome: Outcome): void {
  kubeFlags(program.command('controller')
    .summary('run the operator against the current kubeconfig (or in-cluster)')
    .description('Run the operator until SIGTERM or SIGINT: watch Rollouts (all namespaces, or one with -n), write the DestinationRules and VirtualServices they need by server-side apply under the field manager fledge, judge each step from Prometheus. JSON logs on stdout.')
    .usage('[flags]'), { namespaceHelp: 'watch this namespace only; needs no cluster-wide permissions (default: all namespaces)' })
    .option('--leader-elect', 'take the Lease before acting, so that only one replica writes', false)
    .option('--lease-namespace <namespace>', `the Lease's namespace (default: $POD_NAMESPACE, the pod's own namespace through the downward API; else the -n namespace; else ${D.leaseNamespace})`)
    .option('--lease-name <name>', `the Lease's name (default: ${D.leaseName})`)
    .option('--metrics-bind-address <host:port>', '/metrics, /healthz and /readyz', D.metricsAddress)
    .option('--workers <n>', 'concurrent reconciles', String(D.workers))
    .option('--resync <duration>', 'every Rollout is reconciled at least this often', D.resync)
    // When not given, the Controller's defaults (controller/defaults.ts).
    .option('--qps <n>', `client-side rate limit towards the API server (default: ${D.qps})`)
    .option('--burst <n>', `burst of that rate limit (default: ${D.burst})`)
    .option('--log-level <level>', 'debug, info, warn or error (default: $LOG_LEVEL, else info)')
    // The only Prometheus servers Rollouts may be judged from (docs/security.md).
    .option('--prometheus-address <url>', 'the default Prometheus provider: Rollouts without a prometheus block are judged from it')
    .option('--prometheus-config <file>', 'Prometheus providers and allowedAddresses, a YAML file (docs/install.md)')
    .addHelpText('after', examples(
      ['fledge controller', 'all namespaces, current kubeconfig context'],
      ['fledge controller -n shop', 'one namespace; needs no cluster-wide permissions'],
      ['fledge controller --leader-elect', 'one of several replicas'],
      ['fledge controller --prometheus-address http://prometheus.istio-system:9090', 'judge Rollouts from this Prometheus'],
    ))
    .action(async (o: ControllerFlags) => {
      outcome.code = await runControllerCommand(o);
    });
}

const int = (name: string, text: string) => {
  if (!/^[0-9]+$/.test(text) || Number(text) < 1) throw new UsageError(`--${name}: must be a positive integer`);
  return Number(text);
};

/** `fledge controller`: run the operator until SIGTERM or SIGINT. */
export async function runControllerCommand(values: ControllerFlags): Promise<number> {
  const resyncMs = parseDuration(values.resync);
  if (!resyncMs) throw new UsageError('--resync: must be a duration such as 5m');
  const { Controller } = await import('../controller/controller.ts');
  const { createLogger } = await import('../controller/log.ts');
  const log = createLogger(values.logLevel ?? process.env.LOG_LEVEL ?? 'info');
  const prometheus = await prometheusProviders(values.prometheusAddress, values.prometheusConfig);
  log.info({ providers: prometheus.providers.map((p) => ({ name: p.name, address: p.address, auth: p.auth?.type ?? 'none', namespaces: p.namespaces ?? 'all' })), allowedAddresses: prometheus.allowedAddresses }, 'Prometheus providers');
  if (prometheus.providers.length === 0 && prometheus.allowedAddresses.length === 0) {
    log.warn({}, 'no Prometheus provider is configured (--prometheus-address, --prometheus-config): every Rollout whose analysis queries Prometheus will be Invalid');
  }
  let stopping = false;
  const controller = new Controller({
    log,
    prometheus,
    ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.context ? { context: values.context } : {}),
    ...(values.namespace ? { namespace: values.namespace } : {}),
    leaderElect: values.leaderElect,
    // The pod's own namespace, not a fixed one: an overlay that moves the ServiceAccount and its
    // Role moves the Lease with them (a fixed fledge-system was forbidden there, and never led).
    ...(values.leaseNamespace || process.env.POD_NAMESPACE ? { leaseNamespace: values.leaseNamespace || process.env.POD_NAMESPACE } : {}),
    ...(values.leaseName ? { leaseName: values.leaseName } : {}),
    ...(process.env.POD_NAME ? { identity: process.env.POD_NAME } : {}),
    metricsAddress: values.metricsBindAddress,
    workers: int('workers', values.workers),
    resyncMs,
    ...(values.qps !== undefined ? { qps: int('qps', values.qps) } : {}),
    ...(values.burst !== undefined ? { burst: int('burst', values.burst) } : {}),
    onLostLeadership: () => {
      // Another replica may already be writing: stop at once, let the Deployment restart us.
      log.error({}, 'leadership lost; exiting');
      process.exit(1);
    },
  });
  const done = new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down');
      controller.stop().then(() => resolve(0), (err: Error) => {
        log.error({ err: err.message }, 'shutdown failed');
        resolve(1);
      });
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
  await controller.start();
  const code = await done;
  // Keep-alive sockets of the Kubernetes client may hold the loop open; they have nothing to say.
  setTimeout(() => process.exit(code), 200).unref();
  return code;
}

/** The providers of --prometheus-address and --prometheus-config; a usage error names the flag. */
async function prometheusProviders(address: string | undefined, configPath: string | undefined): Promise<PrometheusConfig> {
  const { loadPrometheusConfig, ProviderConfigError } = await import('../metrics/provider-config.ts');
  try {
    return loadPrometheusConfig({ ...(address !== undefined ? { address } : {}), ...(configPath !== undefined ? { configPath } : {}) });
  } catch (err) {
    if (err instanceof ProviderConfigError) throw new UsageError(err.message);
    throw err;
  }
}
