import type { ResourceRef } from '../../api/object.ts';

/** Istio's networking API group and the version Fledge writes (istio.io/api networking/v1). */
export const ISTIO_GROUP = 'networking.istio.io';
export const ISTIO_VERSION = 'v1';
export const ISTIO_API_VERSION = `${ISTIO_GROUP}/${ISTIO_VERSION}`;

export const VIRTUAL_SERVICES: ResourceRef = { group: ISTIO_GROUP, version: ISTIO_VERSION, plural: 'virtualservices' };
export const DESTINATION_RULES: ResourceRef = { group: ISTIO_GROUP, version: ISTIO_VERSION, plural: 'destinationrules' };
