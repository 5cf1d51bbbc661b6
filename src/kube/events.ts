import { randomBytes } from 'node:crypto';
import type { KubeObject } from '../api/object.ts';
import type { KubeClient } from './client.ts';
import type { Logger } from './log.ts';
import { microTime } from './time.ts';

export interface EventInput {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  action?: string;
}

/**
 * Records events.k8s.io/v1 Events about an object. A failed Event must never fail a reconcile: it
 * is logged and dropped.
 */
export class EventRecorder {
  private readonly client: KubeClient;
  private readonly controller: string;
  private readonly instance: string;
  private readonly log: Logger;

  constructor(client: KubeClient, controller: string, instance: string, log: Logger) {
    this.client = client;
    this.controller = controller;
    this.instance = instance;
    this.log = log;
  }

  async record(regarding: KubeObject, e: EventInput): Promise<void> {
    const ns = regarding.metadata.namespace ?? 'default';
    try {
      await this.client.createEvent(ns, {
        metadata: { name: `${regarding.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: ns },
        eventTime: microTime(new Date()),
        reportingController: this.controller,
        reportingInstance: this.instance,
        action: e.action ?? e.reason,
        reason: e.reason,
        type: e.type,
        // The API server refuses notes over 1 kB.
        note: e.message.length > 1000 ? `${e.message.slice(0, 997)}...` : e.message,
        regarding: {
          apiVersion: regarding.apiVersion,
          kind: regarding.kind,
          name: regarding.metadata.name,
          namespace: ns,
          ...(regarding.metadata.uid ? { uid: regarding.metadata.uid } : {}),
        },
      });
    } catch (err) {
      this.log.warn({ reason: e.reason, object: `${ns}/${regarding.metadata.name}`, err: (err as Error).message }, 'could not record event');
    }
  }
}
