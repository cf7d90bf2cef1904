"""The MQTT broker: Mosquitto's files from the device registry, and the embedded broker of the demo."""
