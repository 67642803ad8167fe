/**
 * The exec, attach and port-forward sessions running through this Node process, by request
 * id and by the approval that let them in: what an approver's "terminate" ends. In-process
 * only — a session lives on the socket of the Gatehouse that carries it (docs/forwarding.md);
 * `SessionControl` is what the approval page asks, answered by this process alone
 * (`LiveSessions.control`) or by every worker of `gatehouse serve --workers N`
 * (src/runtime/worker-sessions.ts).
 */

/** The approval page's view of the live sessions: how many an approval let in, and ending them. */
export interface SessionControl {
  /** How many sessions the approval let in are running now. */
  running(approvalId: string): Promise<number>;
  /** Ends every session the approval let in, "terminated by <by>"; resolves with how many were running. */
  terminate(approvalId: string, by: string): Promise<number>;
}

export interface LiveSession {
  readonly requestId: string;
  readonly approvalId?: string;
  readonly user: string;
  /** Ends the session; `reason` reaches the client and the recording. */
  terminate(reason: string): void;
}

export class LiveSessions {
  private readonly sessions = new Map<string, LiveSession>();

  /** Registers a running session; the returned function removes it once it ended. */
  add(session: LiveSession): () => void {
    this.sessions.set(session.requestId, session);
    return () => {
      if (this.sessions.get(session.requestId) === session) this.sessions.delete(session.requestId);
    };
  }

  forApproval(approvalId: string): LiveSession[] {
    return [...this.sessions.values()].filter((session) => session.approvalId === approvalId);
  }

  /** Ends every session the approval let in; returns how many were running. */
  terminateApproval(approvalId: string, by: string): number {
    const running = this.forApproval(approvalId);
    for (const session of running) session.terminate(`terminated by ${by}`);
    return running.length;
  }

  /** This process's sessions as the approval page sees them. */
  control(): SessionControl {
    return {
      running: (approvalId) => Promise.resolve(this.forApproval(approvalId).length),
      terminate: (approvalId, by) => Promise.resolve(this.terminateApproval(approvalId, by)),
    };
  }

  get size(): number {
    return this.sessions.size;
  }
}
