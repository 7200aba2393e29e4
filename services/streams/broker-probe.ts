/** Whether an MQTT broker answers at `url` (a CONNACK within the timeout): `mec up` asks before it relies on one. */
import mqtt from 'mqtt';

export async function brokerAnswers(url: string, timeoutMs = 1_000): Promise<boolean> {
  try {
    const client = await mqtt.connectAsync(url, { connectTimeout: timeoutMs, reconnectPeriod: 0, protocolVersion: 5 });
    await client.endAsync(true);
    return true;
  } catch {
    return false;
  }
}
