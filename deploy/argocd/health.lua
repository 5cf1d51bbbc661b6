-- Argo CD health check for fledge.dev/Rollout (argocd-cm key
-- resource.customizations.health.fledge.dev_Rollout). It reads what the Fledge controller writes:
-- status.observedGeneration, status.phase, status.message and the Stalled condition.
--   Progressing: the controller has not yet observed this generation, or a release is under way
--   Suspended:   paused at a manual step, by `fledge pause`, or for want of evidence
--   Healthy:     promoted
--   Degraded:    rolled back, invalid, or held with Stalled=True (the guard, a refused write)
-- The one source of this script is deploy/argocd/health.lua in the Fledge repository.
local hs = {}
local status = obj.status
if status == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Fledge controller to observe the Rollout"
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the Fledge controller to observe generation " .. generation
  return hs
end
local message = status.message or ""
if status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Stalled" and condition.status == "True" then
      hs.status = "Degraded"
      hs.message = condition.message or message
      return hs
    end
  end
end
local phase = status.phase
if phase == "Promoted" then
  hs.status = "Healthy"
elseif phase == "Paused" then
  hs.status = "Suspended"
elseif phase == "RolledBack" or phase == "Invalid" then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
hs.message = message
return hs
