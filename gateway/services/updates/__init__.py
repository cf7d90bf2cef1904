"""Updates over the air: model packs published by the gateway, sent to devices in staged rollouts."""
