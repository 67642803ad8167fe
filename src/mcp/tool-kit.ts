/**
 * The small frame every tool is written in: a strict input schema (unknown keys are refused,
 * with the key named), an output schema (the tool's own fields and those of a pending or
 * refused call: what its structured content always validates against), a handler that gets
 * the validated arguments and a KubeClient bound to this tool call, and one place that turns a
 * failed cluster answer into a result saying what to change. A pending approval is handed to
 * the environment's `waitForApproval` when it has one (the client can be asked whether to wait):
 * the tool runs again, with the same client and arguments, once approved. Tool modules
 * (read-tools.ts, write-tools.ts) only describe their tools.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AnySchema } from '@modelcontextprotocol/sdk/server/zod-compat.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import type { KubeAnswer, KubeClient } from './kube-client.ts';
import { failureResult, OUTCOME_FIELDS } from './tool-results.ts';

/** What the SDK hands a tool handler besides its arguments. */
export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface ToolEnvironment {
  /** A client for one tool call: its records and approvals name the tool and these arguments. */
  client(tool: string, args: unknown): KubeClient;
  now(): number;
  /** Set when this call may ask the user whether to wait for a pending approval (approval-wait.ts). */
  waitForApproval?(pending: CallToolResult, runAgain: () => Promise<CallToolResult>, extra: ToolExtra): Promise<CallToolResult>;
}

export interface ToolCall<Args> {
  args: Args;
  kube: KubeClient;
  now: () => number;
  /** The answer, or a thrown Refusal carrying the result that says why not (caught by the frame). */
  expect(answer: KubeAnswer): KubeAnswer;
}

export interface ToolSpec<Shape extends z.ZodRawShape> {
  name: string;
  title: string;
  description: string;
  input: Shape;
  /** The fields of a success's structured content. */
  output: z.ZodRawShape;
  annotations: ToolAnnotations;
  run(call: ToolCall<z.infer<z.ZodObject<Shape>>>): Promise<CallToolResult>;
}

/** Ends a tool call early with a ready result (a refusal from the cluster or the pipeline). */
class Refusal extends Error {
  constructor(readonly result: CallToolResult) {
    super('refused');
  }
}

export function defineTool<Shape extends z.ZodRawShape>(spec: ToolSpec<Shape>): (server: McpServer, environment: ToolEnvironment) => void {
  const schema = z.strictObject(spec.input);
  // Loose: cluster data carries what the cluster sends. Every field optional: a result is a success or an outcome.
  const outputSchema: AnySchema = z.looseObject(spec.output).partial().extend(OUTCOME_FIELDS);
  return (server, environment) => {
    const inputSchema: AnySchema = schema;
    server.registerTool(spec.name, { title: spec.title, description: spec.description, inputSchema, outputSchema, annotations: spec.annotations }, async (args: unknown, extra: ToolExtra) => {
      const parsed = args as z.infer<z.ZodObject<Shape>>;
      const call: ToolCall<z.infer<z.ZodObject<Shape>>> = {
        args: parsed,
        kube: environment.client(spec.name, parsed),
        now: () => environment.now(),
        expect(answer) {
          if (answer.failure !== undefined) throw new Refusal(failureResult(answer, parsed as Record<string, unknown>));
          return answer;
        },
      };
      const run = async (): Promise<CallToolResult> => {
        try {
          return await spec.run(call);
        } catch (error) {
          if (error instanceof Refusal) return error.result;
          throw error;
        }
      };
      const result = await run();
      return environment.waitForApproval === undefined ? result : environment.waitForApproval(result, run, extra);
    });
  };
}
