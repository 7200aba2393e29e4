/**
 * A camera's threshold calibration ("teach-in", docs/streams.md), over JSON:
 *   PUT    /v1/streams/{cameraId}/calibration  {"surface", "frames"?, "false_alarm_rate"?} -> 202, collecting
 *   GET    /v1/streams/{cameraId}/calibration  -> 200 its state (collecting, calibrated, stale)
 *   DELETE /v1/streams/{cameraId}/calibration  -> 204, back to the model card's threshold
 * PUT and DELETE are admin routes (admin-guard.ts): a calibration decides which frames alarm.
 * The paths have one segment more than the camera WebSocket `GET /v1/streams/{cameraId}`, so the
 * two never match the same request.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { EdgeError } from '../../core/errors.ts';
import { adminGuard } from '../admin-guard.ts';
import type { RouteOptions } from '../deps.ts';
import { documentedBody } from '../schemas.ts';
import { assertCameraId } from '../../streams/camera-id.ts';
import { CALIBRATION_FALSE_ALARM_RATE, CALIBRATION_FRAMES, checkCalibrationSettings, type CalibrationSettings } from '../../streams/calibration.ts';

const FIELDS = ['surface', 'frames', 'false_alarm_rate'];

function invalid(message: string): EdgeError {
  return new EdgeError('EDGE_ERR_STREAM_CALIBRATION_INVALID', message);
}

/** The PUT body as settings; EDGE_ERR_STREAM_CALIBRATION_INVALID for anything but the documented JSON. */
function parseCalibrationBody(body: unknown): CalibrationSettings {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalid('send a JSON object {"surface": "...", "frames"?: 10-1000, "false_alarm_rate"?: (0, 0.5]} with Content-Type: application/json');
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !FIELDS.includes(key));
  if (unknown.length > 0) throw invalid(`unknown fields: ${unknown.slice(0, 5).join(', ')} (allowed: ${FIELDS.join(', ')})`);
  const { surface, frames = CALIBRATION_FRAMES.default, false_alarm_rate: falseAlarmRate = CALIBRATION_FALSE_ALARM_RATE.default } = fields;
  if (typeof surface !== 'string' || surface.length === 0 || surface.length > 256) {
    throw invalid('surface must be the name of the surface the camera looks at (GET /v1/inspect/surfaces)');
  }
  if (typeof frames !== 'number') throw invalid('frames must be a number');
  if (typeof falseAlarmRate !== 'number') throw invalid('false_alarm_rate must be a number');
  const settings = { surface, frames, falseAlarmRate };
  checkCalibrationSettings(settings);
  return settings;
}

function notFound(cameraId: string): EdgeError {
  return new EdgeError('EDGE_ERR_STREAM_CALIBRATION_NOT_FOUND', `camera ${JSON.stringify(cameraId)} has no calibration on this node; start one with PUT /v1/streams/${cameraId}/calibration`);
}

export async function streamCalibrationRoutes(app: FastifyInstance, { config, deps }: RouteOptions): Promise<void> {
  const calibrations = deps.streams.hub.calibrations;
  // A calibration raises or lowers the bar for a camera's alarms: changing it is an admin act
  // (the admin token, or loopback while none is set), like loading a model. Reading it is not.
  const admin = adminGuard(config.server.adminToken);
  const path = '/v1/streams/:cameraId/calibration';
  type Request = { Params: { cameraId: string } };

  // Shown in /docs only: the body is checked by parseCalibrationBody, so that every fault has our code.
  const body = documentedBody({
    type: 'object',
    required: ['surface'],
    additionalProperties: false,
    properties: {
      surface: { type: 'string', minLength: 1, maxLength: 256, description: 'The surface the camera looks at (GET /v1/inspect/surfaces)' },
      frames: { type: 'integer', minimum: CALIBRATION_FRAMES.min, maximum: CALIBRATION_FRAMES.max, default: CALIBRATION_FRAMES.default, description: 'Defect-free frames to collect' },
      false_alarm_rate: { type: 'number', exclusiveMinimum: 0, maximum: CALIBRATION_FALSE_ALARM_RATE.max, default: CALIBRATION_FALSE_ALARM_RATE.default, description: 'Share of the collected frames the threshold may flag (only as fine as 1/frames)' },
    },
  });

  app.put<Request>(path, { config: body, preHandler: admin, schema: { summary: 'Teach a camera its threshold: its next frames of the surface are declared defect-free and set it', tags: ['streams'] } }, async (request, reply: FastifyReply) => {
    const { cameraId } = request.params;
    // Before the body, so that a bad id is named as such.
    assertCameraId(cameraId);
    const settings = parseCalibrationBody(request.body);
    deps.inspection.assertSurface(settings.surface);
    return reply.code(202).send(calibrations.start(cameraId, settings));
  });

  app.get<Request>(path, { schema: { summary: "A camera's threshold calibration: collecting, calibrated or stale", tags: ['streams'] } }, async (request) => {
    const status = calibrations.status(request.params.cameraId);
    if (status === undefined) throw notFound(request.params.cameraId);
    return status;
  });

  app.delete<Request>(path, { preHandler: admin, schema: { summary: "Forget a camera's calibration: back to the model card's threshold", tags: ['streams'] } }, async (request, reply: FastifyReply) => {
    if (!calibrations.remove(request.params.cameraId)) throw notFound(request.params.cameraId);
    return reply.code(204).send();
  });
}
