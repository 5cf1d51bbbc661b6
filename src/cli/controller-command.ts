import { parseDuration } from '../api/duration.ts';
import { Controller } from '../controller/controller.ts';
import { createLogger } from '../controller/log.ts';
import { loadPrometheusConfig, ProviderConfigError, type PrometheusConfig } from '../metrics/provider-config.ts';
import { parse } from './args.ts';
import { UsageError } from './documents.ts';

/** `fledge controller`: run the operator until SIGTERM or SIGINT. */
export async function runControllerCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    namespace: { type: 'string', short: 'n' },
    kubeconfig: { type: 'string' },
    'leader-elect': { type: 'boolean', default: false },
    'lease-namespace': { type: 'string' },
    'lease-name': { type: 'string' },
    'metrics-bind-address': { type: 'string', default: '0.0.0.0:8080' },
    workers: { type: 'string', default: '4' },
    resync: { type: 'string', default: '5m' },
    // When not given, the Controller's defaults: 500 and 1000, sized so that 5,000 Rollouts (4
    // requests each at startup) converge in about a minute; the API server's priority and fairness
    // does the protecting (bench:scale, docs/benchmarks.md).
    qps: { type: 'string' },
    burst: { type: 'string' },
    'log-level': { type: 'string' },
    // The only Prometheus servers Rollouts may be judged from (docs/security.md).
    'prometheus-address': { type: 'string' },
    'prometheus-config': { type: 'string' },
  });
  const log = createLogger(values['log-level'] ?? process.env.LOG_LEVEL ?? 'info');
  const resyncMs = parseDuration(values.resync);
  if (!resyncMs) throw new UsageError('--resync: must be a duration such as 5m');
  const int = (name: string, text: string) => {
    if (!/^[0-9]+$/.test(text) || Number(text) < 1) throw new UsageError(`--${name}: must be a positive integer`);
    return Number(text);
  };
  const prometheus = prometheusProviders(values['prometheus-address'], values['prometheus-config']);
  log.info({ providers: prometheus.providers.map((p) => ({ name: p.name, address: p.address, auth: p.auth?.type ?? 'none', namespaces: p.namespaces ?? 'all' })), allowedAddresses: prometheus.allowedAddresses }, 'Prometheus providers');
  if (prometheus.providers.length === 0 && prometheus.allowedAddresses.length === 0) {
    log.warn({}, 'no Prometheus provider is configured (--prometheus-address, --prometheus-config): every Rollout whose analysis queries Prometheus will be Invalid');
  }
  let stopping = false;
  const controller = new Controller({
    prometheus,
    log,
    ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.namespace ? { namespace: values.namespace } : {}),
    leaderElect: values['leader-elect'],
    ...(values['lease-namespace'] ? { leaseNamespace: values['lease-namespace'] } : {}),
    ...(values['lease-name'] ? { leaseName: values['lease-name'] } : {}),
    ...(process.env.POD_NAME ? { identity: process.env.POD_NAME } : {}),
    metricsAddress: values['metrics-bind-address'],
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
function prometheusProviders(address: string | undefined, configPath: string | undefined): PrometheusConfig {
  try {
    return loadPrometheusConfig({ ...(address !== undefined ? { address } : {}), ...(configPath !== undefined ? { configPath } : {}) });
  } catch (err) {
    if (err instanceof ProviderConfigError) throw new UsageError(err.message);
    throw err;
  }
}
