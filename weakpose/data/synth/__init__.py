"""The synthetic world: twins of H36M / 3DHP / MQC / MPII (`twins`), procedural poses (`poses`), the renderer
(`render`), crowd videos for the tracklet pipeline (`crowd`) and the twins figure (`figure`)."""
