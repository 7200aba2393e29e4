/**
 * The device tier's SDK: small models on the device, placement asked per request (device-client.ts).
 */
export { DeviceClient, type DeviceAnswer, type DeviceClientOptions, type DevicePlacement, type DetectCallOptions, type InspectCallOptions, type PlacedCallOptions } from './device-client.ts';
