"""CAN payloads: DBC loading, the frame codec with range checks, E2E protection (CRC-8 + alive counter)."""
