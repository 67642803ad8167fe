/**
 * Plays a recording in a terminal with its original timing: each output event is written
 * after the pause that preceded it, divided by `speed`, and no pause longer than `idleLimit`
 * seconds. Input events are not written (the terminal's echo is in the output), resizes
 * cannot be imposed on the viewer's terminal, markers are written as a line of their own.
 *
 * What a recording holds came from a pod: before it reaches the viewer's terminal, the
 * control strings a terminal acts on beyond drawing (OSC — title, clipboard, hyperlinks —
 * DCS, SOS, PM, APC) are removed; drawing (CSI, SGR colours, cursor moves) stays.
 * Pure: the clock is the injected `sleep`, the terminal the injected `write`.
 */
import type { Cast } from './asciicast.ts';

export interface PlayOptions {
  /** 2 plays twice as fast; default 1. */
  speed?: number;
  /** Longest pause in seconds (before speed); default none. */
  idleLimit?: number;
  sleep(ms: number): Promise<void>;
  write(text: string): void;
}

export async function playCast(cast: Cast, options: PlayOptions): Promise<void> {
  const speed = options.speed ?? 1;
  const filter = terminalFilter();
  let previous = 0;
  for (const [time, code, data] of cast.events) {
    // Input and resizes are not shown: their time counts towards the next shown event's pause.
    if (code !== 'o' && code !== 'm') continue;
    let pause = Math.max(0, time - previous);
    previous = time;
    if (options.idleLimit !== undefined) pause = Math.min(pause, options.idleLimit);
    const ms = (pause * 1000) / speed;
    if (ms > 0) await options.sleep(ms);
    options.write(code === 'o' ? filter(data) : `\r\n\x1b[2m[${filter(data)}]\x1b[0m\r\n`);
  }
}

/**
 * Removes terminal control strings (ESC ] … , ESC P …, ESC X …, ESC ^ …, ESC _ … and their
 * 8-bit forms, up to BEL or ST) from a stream of text, also when one is split across events.
 */
export function terminalFilter(): (text: string) => string {
  let inString = false;
  let pendingEscape = false;
  return (text) => {
    let out = '';
    for (let i = 0; i < text.length; i += 1) {
      const ch = text[i] as string;
      if (pendingEscape) {
        pendingEscape = false;
        if (inString) {
          // ESC \ is ST: the string ends; any other ESC inside a string is swallowed with it.
          if (ch === '\\') inString = false;
          continue;
        }
        if (']PX^_'.includes(ch)) {
          inString = true;
          continue;
        }
        out += `\x1b${ch}`;
        continue;
      }
      if (ch === '\x1b') {
        pendingEscape = true;
        continue;
      }
      if (inString) {
        if (ch === '\x07' || ch === '\x9c') inString = false;
        continue;
      }
      if ('\x90\x98\x9d\x9e\x9f'.includes(ch)) {
        inString = true;
        continue;
      }
      out += ch;
    }
    return out;
  };
}
