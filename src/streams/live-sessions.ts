/**
 * The exec, attach and port-forward sessions running through this Node process, by request
 * id and by the approval that let them in: what an approver's "terminate" ends. In-process
 * only — a session lives on the socket of the Gatehouse that carries it (docs/forwarding.md).
 */

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

  get size(): number {
    return this.sessions.size;
  }
}
