package ssotws

// A ChannelRegistry learns the channels of models: the [Gateway] is one.
// Generated RegisterChannels functions call it for every realtime model of
// a file, so that the gateway accepts their channel names, authorizes
// subscriptions with the model's read access and filters events per user
// with its owner field.
type ChannelRegistry interface {
	RegisterModel(m *Model) error
}
