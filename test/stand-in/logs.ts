/**
 * `GET …/pods/{name}/log`: plain text, one line per entry; with `follow=true` a chunked
 * response that stays open and carries each new line as the store receives it, until the
 * pod is deleted, the client goes away or the server closes.
 */
import type { Exchange } from './exchange.ts';
import { isTrue } from './exchange.ts';
import { badRequest, notFound } from './status.ts';
import { podContainers, type LogLine } from './store.ts';

export function handleLogs(x: Exchange): void {
  const { namespace, name } = x.attrs;
  const pod = x.store.read(x.type, namespace, name);
  if (pod === undefined) throw notFound(x.type, name);
  const containers = podContainers(pod);
  const asked = x.query.get('container') ?? '';
  let container = asked;
  if (asked === '') {
    if (containers.length > 1) {
      throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`);
    }
    container = containers[0] ?? '';
  } else if (!containers.includes(asked)) {
    throw badRequest(`container ${asked} is not valid for pod ${name}`);
  }
  const timestamps = isTrue(x.query.get('timestamps'));
  const format = (line: LogLine): string => (timestamps ? `${line.time} ${line.text}\n` : `${line.text}\n`);
  let lines = x.store.logs(namespace, name, container);
  const tail = x.query.get('tailLines');
  if (tail !== null && Number(tail) >= 0) lines = Number(tail) === 0 ? [] : lines.slice(-Number(tail));

  x.res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-cache, private' });
  for (const line of lines) x.res.write(format(line));
  if (!isTrue(x.query.get('follow'))) {
    x.res.end();
    return;
  }
  const stopLogs = x.store.onLog((event) => {
    if (event.namespace === namespace && event.pod === name && event.container === container) x.res.write(format(event.line));
  });
  const stopWatch = x.store.subscribe((event) => {
    if (event.type === 'DELETED' && event.resourceType === x.type && event.object.metadata.namespace === namespace && event.object.metadata.name === name) {
      finish();
    }
  });
  const untrack = x.track(() => finish());
  function finish(): void {
    stopLogs();
    stopWatch();
    untrack();
    if (!x.res.writableEnded) x.res.end();
  }
  x.res.on('close', finish);
}
