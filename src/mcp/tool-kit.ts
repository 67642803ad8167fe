/**
 * The small frame every tool is written in: a strict input schema (unknown keys are refused,
 * with the key named), a handler that gets the validated arguments and a KubeClient bound to
 * this tool call, and one place that turns a failed cluster answer into a result saying what
 * to change. Tool modules (read-tools.ts, write-tools.ts) only describe their tools.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AnySchema } from '@modelcontextprotocol/sdk/server/zod-compat.js';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import type { KubeAnswer, KubeClient } from './kube-client.ts';
import { failureResult } from './tool-results.ts';

export interface ToolEnvironment {
  /** A client for one tool call: its records and approvals name the tool and these arguments. */
  client(tool: string, args: unknown): KubeClient;
  now(): number;
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
  return (server, environment) => {
    const inputSchema: AnySchema = schema;
    server.registerTool(spec.name, { title: spec.title, description: spec.description, inputSchema, annotations: spec.annotations }, async (args: unknown) => {
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
      try {
        return await spec.run(call);
      } catch (error) {
        if (error instanceof Refusal) return error.result;
        throw error;
      }
    });
  };
}
