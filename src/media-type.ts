/**
 * The media type of a Content-Type (or of one Accept range): what stands before any
 * parameter, trimmed, lower-case — `Application/JSON; charset=utf-8` is `application/json`.
 * Every stage that tells bodies apart by their type reads it here.
 */
export function mediaTypeOf(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}
