/**
 * Watch: a chunked response of `{"type":…,"object":…}` lines. Without a resourceVersion
 * (or "0") it opens with every current object as ADDED; with one, it replays the history
 * after it. Then live events follow. Objects moving in or out of a label/field selector
 * become ADDED/DELETED, as in the watch cache. `timeoutSeconds` ends the stream;
 * `sendInitialEvents` + `allowWatchBookmarks` ends the initial burst with the
 * `k8s.io/initial-events-end` bookmark. Table watches carry the column definitions in the
 * first event only (`null` afterwards), as the API server does to save bandwidth. Events are
 * encoded as negotiated (JSON lines, length-prefixed protobuf WatchEvents, a CBOR sequence),
 * over chunked HTTP or, when the client upgraded, WebSocket messages (see websocket-watch.ts).
 */
import { apiVersionOf } from './catalogue.ts';
import type { Exchange } from './exchange.ts';
import { auditIdOf, isTrue } from './exchange.ts';
import { encodeWatchEvent } from './encode.ts';
import { watchContentType } from './negotiate.ts';
import { objectFilter, renderObjects, representation } from './render.ts';
import { ApiError } from './status.ts';
import type { KubeObject, StoreEvent } from './store.ts';

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/**
 * Where a watch's events go: the HTTP response (chunked), or a WebSocket (watch.ts's caller
 * in apiserver.ts, for `Upgrade: websocket`). `start` sends the headers or the 101.
 */
export interface WatchTransport {
  start(contentType: string): void;
  write(bytes: Buffer): void;
  end(): void;
  readonly ended: boolean;
  onClose(listener: () => void): void;
}

function httpTransport(x: Exchange): WatchTransport {
  return {
    start(contentType) {
      x.res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache, private', 'transfer-encoding': 'chunked', 'audit-id': auditIdOf(x.req) });
      x.res.flushHeaders();
    },
    write: (bytes) => void x.res.write(bytes),
    end: () => void x.res.end(),
    get ended() {
      return x.res.writableEnded;
    },
    onClose: (listener) => void x.res.on('close', listener),
  };
}

export function handleWatch(x: Exchange, transport: WatchTransport = httpTransport(x)): void {
  const matches = objectFilter(x);
  const rep = representation(x, true);
  const encoding = rep.encoding === 'yaml' ? 'json' : rep.encoding;
  const rvParam = x.query.get('resourceVersion') ?? '';
  const sendInitial = x.query.get('sendInitialEvents') === 'true';
  const bookmarks = isTrue(x.query.get('allowWatchBookmarks'));
  if (rvParam !== '' && !/^\d+$/.test(rvParam)) throw new ApiError(400, 'BadRequest', `resourceVersion: Invalid value: "${rvParam}": must be a valid resourceVersion`);
  const since = Number(rvParam || '0');

  transport.start(watchContentType(rep));

  const send = (type: EventType, object: unknown): void => {
    if (!transport.ended) transport.write(encodeWatchEvent(type, object, encoding));
  };
  let columnsSent = false;
  const sendObject = (type: EventType, object: KubeObject): void => {
    if (rep.as === 'object') {
      send(type, object);
      return;
    }
    const rendered = renderObjects(x, rep, [object], { resourceVersion: object.metadata.resourceVersion }).body as Record<string, unknown>;
    if (rep.as === 'Table' && columnsSent) rendered.columnDefinitions = null;
    columnsSent = true;
    send(type, rendered);
  };
  const previous = new Map<string, KubeObject>();
  const seen = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;

  const onEvent = (event: StoreEvent): void => {
    if (event.resourceType !== x.type) return;
    const key = seen(event.object);
    const wasIn = previous.has(key);
    const isIn = event.type !== 'DELETED' && matches(event.object);
    if (isIn) previous.set(key, event.object);
    else previous.delete(key);
    if (event.type === 'DELETED') {
      if (wasIn || matches(event.object)) sendObject('DELETED', event.object);
    } else if (isIn) sendObject(wasIn ? 'MODIFIED' : 'ADDED', event.object);
    else if (wasIn) sendObject('DELETED', event.object);
  };

  if (rvParam === '' || rvParam === '0' || sendInitial) {
    for (const object of x.store.listOf(x.type, x.type.namespaced ? x.attrs.namespace : '').filter(matches)) {
      previous.set(seen(object), object);
      sendObject('ADDED', object);
    }
    if (sendInitial && bookmarks) {
      send('BOOKMARK', {
        kind: x.type.kind,
        apiVersion: apiVersionOf(x.type),
        metadata: { resourceVersion: x.store.resourceVersion(), annotations: { 'k8s.io/initial-events-end': 'true' } },
      });
    }
  } else {
    for (const object of x.store.listOf(x.type, x.type.namespaced ? x.attrs.namespace : '').filter(matches)) {
      if (Number(object.metadata.resourceVersion) <= since) previous.set(seen(object), object);
    }
    for (const event of x.store.eventsSince(since)) onEvent(event);
  }

  const unsubscribe = x.store.subscribe(onEvent);
  const timeout = Number(x.query.get('timeoutSeconds') ?? '0');
  const timer = timeout > 0 ? setTimeout(() => finish(), timeout * 1000) : undefined;
  const untrack = x.track(() => finish());
  function finish(): void {
    unsubscribe();
    untrack();
    if (timer !== undefined) clearTimeout(timer);
    if (!transport.ended) transport.end();
  }
  transport.onClose(finish);
}
