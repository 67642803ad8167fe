/**
 * A frame the tunnel could not read, or one it will not carry: the session ends with this
 * message as its reason (fail closed). Never leaves as an HTTP answer — the 101 is already out.
 */
export class StreamProtocolError extends Error {
  override readonly name = 'StreamProtocolError';
}
